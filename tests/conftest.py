"""Fixtures shared by the test modules (nbval's kernel setup is in the repository's conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers import labserver


@pytest.fixture(scope="module")
def server() -> Iterator[labserver.LabServer]:
    """One lab server per test module, stopped at the module's end."""
    with labserver.start() as srv:
        yield srv
