"""Fixtures of the chaos tests: the seed (printed); the databases and engine processes
of tests/durable."""

from __future__ import annotations

import pytest

from tests.durable.conftest import postgres_url, sqlite_url, workers

from ._harness import SEED_ENV, chaos_seed

__all__ = ["postgres_url", "seed", "sqlite_url", "workers"]


@pytest.fixture
def seed() -> int:
    """The RNG seed of the test: ``ASCENT_CHAOS_SEED``, else a fresh one (printed)."""
    value = chaos_seed()
    print(f"chaos seed: {value} (repeat with {SEED_ENV}={value})")
    return value
