"""Fixtures for the tests that build their own database (migrations, triggers, real commits)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import new_database


@pytest.fixture
def fresh_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the backend under test, dropped afterwards; its URL."""
    fresh = new_database(tmp_path)
    try:
        yield fresh.url
    finally:
        fresh.drop()
