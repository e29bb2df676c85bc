"""The service's event loop and HTTP parser: uvloop/httptools when installed, and the pure-Python
fallback (asyncio + h11) serving the same API; bad settings fail in one line."""

from __future__ import annotations

import asyncio
import gc

import httpx
import orjson
import pytest
from support.process import start_serve

from dylive.serve import runtime
from dylive.settings import SettingError


def test_the_collector_is_tuned_unless_the_setting_says_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = gc.get_threshold()
    try:
        monkeypatch.setenv("DYLIVE_GC", "default")
        assert runtime.tune_gc() is False
        assert gc.get_threshold() == before
        monkeypatch.setenv("DYLIVE_GC", "tuned")
        assert runtime.tune_gc() is True
        assert gc.get_threshold() == runtime.GC_THRESHOLDS
        assert gc.get_freeze_count() > 0  # what was alive is out of the collector's sight
        monkeypatch.setenv("DYLIVE_GC", "off")
        with pytest.raises(SettingError, match="DYLIVE_GC must be one of tuned, default"):
            runtime.tune_gc()
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_choices_follow_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYLIVE_LOOP", "asyncio")
    monkeypatch.setenv("DYLIVE_HTTP", "h11")
    assert (runtime.loop_name(), runtime.http_name()) == ("asyncio", "h11")
    assert runtime.loop_factory() is None
    monkeypatch.setenv("DYLIVE_LOOP", "auto")
    monkeypatch.setenv("DYLIVE_HTTP", "auto")
    assert runtime.loop_name() == "uvloop"  # installed with dylive (CPython, not Windows)
    assert runtime.http_name() == "httptools"
    monkeypatch.setenv("DYLIVE_LOOP", "trio")
    with pytest.raises(SettingError, match="DYLIVE_LOOP must be one of auto, uvloop, asyncio"):
        runtime.loop_name()


def test_a_fast_choice_that_is_missing_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "_installed", lambda module: False)
    assert (runtime.loop_name("auto"), runtime.http_name("auto")) == ("asyncio", "h11")
    with pytest.raises(SettingError, match="uvloop is not installed"):
        runtime.loop_name("uvloop")
    with pytest.raises(SettingError, match="httptools is not installed"):
        runtime.http_name("httptools")


def test_run_uses_the_chosen_loop() -> None:
    async def kind() -> str:
        return type(asyncio.get_running_loop()).__module__.partition(".")[0]

    assert runtime.run(kind(), loop="asyncio") == "asyncio"
    assert runtime.run(kind(), loop="uvloop") == "uvloop"


@pytest.mark.parametrize(("loop", "http"), [("asyncio", "h11"), ("uvloop", "httptools")])
async def test_dylive_serve_answers_on_either_runtime(
    tmp_path: object, loop: str, http: str
) -> None:
    proc, base = await start_serve(
        f"{tmp_path}/r.db", "http://127.0.0.1:9", env={"DYLIVE_LOOP": loop, "DYLIVE_HTTP": http}
    )
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            health = orjson.loads((await client.get("/healthz")).content)
            assert health["data"]["loop"] == loop
            for _ in range(3):  # keep-alive: several requests on one connection
                resp = await client.get("/douyin/liveroom/chat", params={"room_id": "1"})
                assert resp.status_code == 401
                assert orjson.loads(resp.content)["code"] == 40001
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
