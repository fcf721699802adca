"""Task runner: ``nox -s tests``, ``lint``, ``typing``, ``docs``, ``demo``, ``bench``.

Every session installs what it needs from ``pyproject.toml``'s dependency groups into
its own virtualenv, so a machine with one Python and pip is enough. Sessions use the
Python that runs nox (no pinned versions that may be absent on the machine).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox


nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "typing", "tests", "docs"]

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")


def _install(session: nox.Session, *groups: str, editable: bool = False) -> None:
    requirements: list[str] = []
    for group in groups:
        requirements += nox.project.dependency_groups(PYPROJECT, group)
    target = ["-e", "."] if editable else ["."]
    session.install(*target, *requirements)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (unit, emulator, storage and doc examples) in parallel."""
    _install(session, "tests", "docs")
    # gcsfs' default filesystem class probes the bucket type over gRPC and stalls
    # for a minute per call against the HTTP emulator; the plain class is right.
    session.env["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"
    workers = os.environ.get("PYTEST_WORKERS", "auto")
    # loadfile: the examples of one docs page share a namespace, so one worker
    # runs a whole file.
    session.run(
        "pytest", "-n", workers, "--dist=loadfile", "--durations=15", *session.posargs
    )


@nox.session
def tests_spark(session: nox.Session) -> None:
    """Run the Spark tests (staging inside Spark, local mode) with the spark extra."""
    requirements = nox.project.dependency_groups(PYPROJECT, "tests")
    session.install(".[spark]", *requirements)
    session.run("pytest", "-m", "spark", "-p", "no:xdist", "tests", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff."""
    _install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """Type-check the package with mypy --strict."""
    _install(session, "typing", editable=True)
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the Sphinx docs with warnings as errors."""
    _install(session, "docs")
    out = ROOT / "docs" / "_build" / "html"
    shutil.rmtree(out, ignore_errors=True)
    session.run("sphinx-build", "-n", "-T", "-W", "--keep-going", "docs", str(out))


@nox.session
def demo(session: nox.Session) -> None:
    """Run the end-to-end demo into ./revops-lake (or the path given after --)."""
    session.install(".")
    lake = session.posargs[0] if session.posargs else "./revops-lake"
    session.run("revops-ingest", "demo", "--lake", lake)


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks in benchmarks/ and print their figures."""
    _install(session, "bench")
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)
