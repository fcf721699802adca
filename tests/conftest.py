"""Fixtures shared by every test package: loopback only, one SparkSession, emulators.

``emulator_factory`` is the one our users get (``revops_ingest.testing.pytest_plugin``).

Every test process refuses network connections and name lookups beyond the
loopback interface: the tests hold public host names as data (``acme.com``,
``merck.com``, vendor defaults such as ``api.hubapi.com``), and this makes sure
none of them is ever contacted.

Spark tests are marked ``spark`` (``nox -s tests_spark`` runs them); they skip when
pyspark or Java is missing. One session serves the whole run: two sessions with
different settings in one process share a JVM, and the second would silently get
the first's (including its number of cores). PySpark 4.x warns at import that it
does not fully support pandas >= 3; that one warning is ignored for ``spark`` tests
only (pyproject turns warnings into errors).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import shutil
import socket

import pytest


pytest_plugins = ["revops_ingest.testing.pytest_plugin"]

_PANDAS_WARNING = (
    "ignore:PySpark does not yet fully support pandas >= 3.0.0:FutureWarning"
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("spark") is not None:
            item.add_marker(pytest.mark.filterwarnings(_PANDAS_WARNING))


_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", ""})


def _loopback(host: object) -> bool:
    """Whether *host* (a name or address, as sockets take it) is this machine."""
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCAL_NAMES or host == socket.gethostname():
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _literal(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    try:
        ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False
    return True


@pytest.fixture(autouse=True, scope="session")
def _loopback_only():
    """Refuse connections and lookups of anything but loopback, for the whole run."""
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex
    getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else address
            if not _loopback(host):
                msg = f"tests may only connect to loopback, not {address!r}"
                raise ConnectionRefusedError(msg)

    def guarded_connect(sock, address):
        check(sock, address)
        return connect(sock, address)

    def guarded_connect_ex(sock, address):
        check(sock, address)
        return connect_ex(sock, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        # An address literal needs no lookup; connecting to it is checked above.
        if host is not None and not _loopback(host) and not _literal(host):
            msg = f"tests may only look up loopback names, not {host!r}"
            raise socket.gaierror(socket.EAI_NONAME, msg)
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect
    socket.socket.connect_ex = guarded_connect_ex
    socket.getaddrinfo = guarded_getaddrinfo
    yield
    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    socket.getaddrinfo = getaddrinfo


def _spark_missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install revops-ingest[spark])"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java (17 or later) is not installed"
    return None


@pytest.fixture(name="spark", scope="session")
def _spark():
    reason = _spark_missing()
    if reason is not None:
        pytest.skip(reason)
    from pyspark.sql import SparkSession  # noqa: PLC0415 - only when Spark is there

    session = (
        SparkSession.builder.master("local[2]")
        .appName("revops-ingest-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
