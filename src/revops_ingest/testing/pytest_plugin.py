"""Pytest fixtures for testing pipelines against emulators.

Enable them in a ``conftest.py`` at the root of your tests::

    pytest_plugins = ["revops_ingest.testing.pytest_plugin"]

then ask for ``emulator_factory``::

    def test_sync(emulator_factory):
        crm = emulator_factory(ExampleCrmEmulator, seed=7)
        ...  # crm is running; it is stopped when the test ends

When the test ends, every emulator it started is stopped, and then the first
exception any of their handlers raised is raised again: a bug in an emulator (or a
request it could not handle) fails the test instead of hiding behind a 500. A test
that provokes one on purpose clears :attr:`~revops_ingest.testing.Emulator.errors`
once it has checked them.
"""

from __future__ import annotations

import typing

import pytest


if typing.TYPE_CHECKING:
    from collections.abc import Iterator

    from revops_ingest.testing._emulator import Emulator


__all__ = ["EmulatorFactory"]

E = typing.TypeVar("E", bound="Emulator")


class EmulatorFactory(typing.Protocol):
    """Start an emulator of class *cls*, built with *kwargs*, and return it."""

    def __call__(self, cls: type[E], /, **kwargs: typing.Any) -> E:
        """Start and return ``cls(**kwargs)``; it is stopped at teardown."""
        ...


@pytest.fixture(name="emulator_factory")
def _emulator_factory() -> Iterator[EmulatorFactory]:
    """Start emulators on demand; stop them all at teardown, then re-raise errors.

    The first exception any of their handlers raised is raised again.
    """
    started: list[Emulator] = []

    def factory(cls: type[E], /, **kwargs: typing.Any) -> E:
        emulator = cls(**kwargs)
        started.append(emulator)
        return emulator.start()

    yield factory
    for emulator in reversed(started):
        emulator.stop()
    for emulator in started:
        emulator.raise_errors()
