"""Shared fixtures for carboy's own test suite."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """carboy targets asyncio (uvicorn, granian, hypercorn all run it)."""
    return "asyncio"
