"""Fixtures shared by every test package: one local SparkSession for all of them.

Spark tests are marked ``spark`` (``nox -s tests_spark`` runs them); they skip when
pyspark or Java is missing. One session serves the whole run: two sessions with
different settings in one process share a JVM, and the second would silently get
the first's (including its number of cores). PySpark 4.x warns at import that it
does not fully support pandas >= 3; that one warning is ignored for ``spark`` tests
only (pyproject turns warnings into errors).
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest


_PANDAS_WARNING = (
    "ignore:PySpark does not yet fully support pandas >= 3.0.0:FutureWarning"
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("spark") is not None:
            item.add_marker(pytest.mark.filterwarnings(_PANDAS_WARNING))


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
