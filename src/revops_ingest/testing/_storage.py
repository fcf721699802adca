"""Loopback object stores for tests: moto's S3 server and a GCS emulator.

Both servers run in a thread of the current process, bind to a free port on a
loopback address and keep everything in memory::

    with moto_s3_server() as s3:
        s3.create_bucket("lake")
        lake = Lake("s3://lake/root", storage_options=s3.storage_options())

    with gcs_emulator() as gcs:
        gcs.create_bucket("lake")
        lake = Lake("gs://lake/root", filesystem=gcs.filesystem())

They need the test extras (``moto[server]``, ``boto3``, ``s3fs``,
``gcp-storage-emulator``, ``gcsfs``), which are imported only when a server is
started.
"""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import json
import os
import sys
import typing
import urllib.request

import attrs

from revops_ingest.exceptions import ConfigurationError


if typing.TYPE_CHECKING:
    from collections.abc import Iterator


__all__ = ["GCSServer", "S3Server", "gcs_emulator", "moto_s3_server"]

_GCSFS_FLAG = "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"


def _check_loopback(host: str) -> None:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ConfigurationError(
            f"test storage servers bind to loopback addresses only, not {host!r}"
        )


def _test_extra(module: str) -> typing.Any:
    """Import an optional test dependency when a server is started."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigurationError(
            f"{module} is needed for the loopback storage servers; install the "
            "test dependencies (moto[server], boto3, s3fs, gcp-storage-emulator, "
            "gcsfs)"
        ) from exc


@attrs.frozen(kw_only=True)
class S3Server:
    """A running moto S3 server and the dummy credentials that work with it.

    Attributes:
        endpoint_url: ``http://127.0.0.1:<port>``.
        key: The dummy access key id.
        secret: The dummy secret access key.
        region: The region to sign requests for.
    """

    endpoint_url: str
    key: str = "testing"
    secret: str = "testing"  # noqa: S105 - moto accepts any credentials
    region: str = "us-east-1"

    def storage_options(self) -> dict[str, typing.Any]:
        """Return s3fs options for this server (pass to ``Lake(storage_options=)``)."""
        return {
            "key": self.key,
            "secret": self.secret,
            "client_kwargs": {
                "endpoint_url": self.endpoint_url,
                "region_name": self.region,
            },
        }

    def create_bucket(self, name: str) -> None:
        """Create a bucket (with boto3: ``s3fs.mkdir`` fails against moto)."""
        boto3 = _test_extra("boto3")
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name=self.region,
        )
        client.create_bucket(Bucket=name)


@contextlib.contextmanager
def moto_s3_server(*, host: str = "127.0.0.1", port: int = 0) -> Iterator[S3Server]:
    """Run moto's S3 server in a thread for the duration of the block.

    Args:
        host: A loopback address to bind.
        port: The port; ``0`` picks a free one.

    Yields:
        The server's endpoint and credentials.
    """
    _check_loopback(host)
    moto_server = _test_extra("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    try:
        bound_host, bound_port = server.get_host_and_port()
        yield S3Server(endpoint_url=f"http://{bound_host}:{bound_port}")
    finally:
        server.stop()


@attrs.frozen(kw_only=True)
class GCSServer:
    """A running GCS emulator.

    Attributes:
        endpoint_url: ``http://127.0.0.1:<port>``.
        project: The project name used for bucket creation.
    """

    endpoint_url: str
    project: str = "test-project"

    def storage_options(self) -> dict[str, typing.Any]:
        """Return gcsfs options for this server (anonymous access)."""
        return {"endpoint_url": self.endpoint_url, "token": "anon"}

    def filesystem(self) -> typing.Any:
        """Return a plain ``gcsfs.GCSFileSystem`` for this server.

        This is the class the emulator needs whatever
        ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT`` said when gcsfs was imported
        (its extended class probes the bucket over gRPC and stalls).
        """
        from gcsfs.core import GCSFileSystem  # noqa: PLC0415 - test extra

        return GCSFileSystem(**self.storage_options(), skip_instance_cache=True)

    def create_bucket(self, name: str) -> None:
        """Create a bucket through the emulator's JSON API."""
        request = urllib.request.Request(  # noqa: S310 - loopback URL we built
            f"{self.endpoint_url}/storage/v1/b?project={self.project}",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()


@contextlib.contextmanager
def gcs_emulator(*, host: str = "127.0.0.1", port: int = 0) -> Iterator[GCSServer]:
    """Run gcp-storage-emulator (in memory) in a thread for the block.

    If gcsfs has not been imported yet, this sets
    ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false`` (unless already set) so that
    ``gs://`` URLs resolve to the plain ``GCSFileSystem``; otherwise use
    :meth:`GCSServer.filesystem`.

    Args:
        host: A loopback address to bind.
        port: The port; ``0`` picks a free one.

    Yields:
        The server's endpoint.
    """
    _check_loopback(host)
    if "gcsfs" not in sys.modules:
        os.environ.setdefault(_GCSFS_FLAG, "false")
    emulator = _test_extra("gcp_storage_emulator.server")
    server = emulator.create_server(host, port, in_memory=True)
    # The emulator's API thread is not a daemon; never let it hold the process.
    server._api.daemon = True  # noqa: SLF001
    server.start()
    try:
        bound_port = server._api._httpd.server_address[1]  # noqa: SLF001
        yield GCSServer(endpoint_url=f"http://{host}:{bound_port}")
    finally:
        server.stop()
