"""Fixtures for the API service tests: the app served by uvicorn on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from dylive.serve import tokens
from dylive.serve.app import ServiceConfig, create_app


@contextlib.asynccontextmanager
async def serving(config: ServiceConfig) -> AsyncIterator[tuple[str, object]]:
    """Run the API with uvicorn on a free port; yield (base_url, Service)."""
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", app.state.svc
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "api.sqlite3")


@pytest.fixture
async def offline_api(db_path: str) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    """The API with an unreachable upstream (port 9 on localhost): auth/param errors only."""
    config = ServiceConfig(db=db_path, upstream="http://127.0.0.1:9", ranklist=False)
    async with serving(config) as (base, svc), httpx.AsyncClient(base_url=base) as client:
        yield client, svc


@pytest.fixture
def serve_api() -> object:
    """The :func:`serving` context manager, for tests that build their own config."""
    return serving


@pytest.fixture
def make_token() -> object:
    async def make(svc: object, name: str = "t", **kw: float) -> str:
        return await tokens.create(svc.store, name, **kw)  # type: ignore[attr-defined]

    return make
