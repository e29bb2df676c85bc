"""Fixtures for the API service tests (the shared ones are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from support.service import serving

from dylive.serve.app import ServiceConfig


@pytest.fixture
async def offline_api(db_path: str) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    """The API with an unreachable upstream (port 9 on localhost): auth/param errors only."""
    config = ServiceConfig(db=db_path, upstream="http://127.0.0.1:9", ranklist=False)
    async with serving(config) as (base, svc), httpx.AsyncClient(base_url=base) as client:
        yield client, svc
