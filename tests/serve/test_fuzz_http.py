"""Schema-driven HTTP fuzz: every operation of ``/openapi.json``, zero 5xx, every error enveloped.

Parameters are generated from the served OpenAPI document (values matching each declared type
and pattern, and junk: random text, unicode and over-long digits, empty strings), tokens are
the valid one or junk, rooms are the simulator's or anything. The service runs against the
simulator (so nothing is an upstream failure) with a stored room. A fixed, derandomized number
of examples per operation keeps it bounded; Server-Sent-Event answers are read to their status
only.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer

JUNK_NUMBERS = ["²", "６１５", "1" * 5000, "-1", "0", "9223372036854775808", "1e309", "nan"]
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
JUNK = st.one_of(TEXT, st.sampled_from(["", " ", "%00", "null", *JUNK_NUMBERS]))
ROOMS = st.sampled_from(
    [
        DEFAULT_WEB_RID,
        str(DEFAULT_ROOM_ID),
        f"https://live.douyin.com/{DEFAULT_WEB_RID}",
        "999999999",
        "7400000000000000099",
    ]
)
EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def value(param: dict[str, Any], token: str) -> st.SearchStrategy[str]:
    """Values for one parameter: what its schema allows, and junk."""
    schema = param.get("schema", {})
    name = param["name"]
    if name == "token":
        return st.one_of(st.just(token), st.just(token), JUNK)
    kind = schema.get("type", "string")
    if kind == "integer":
        low, high = schema.get("minimum", -(2**70)), schema.get("maximum", 2**70)
        typed: st.SearchStrategy[str] = st.integers(low, high).map(str)
    elif kind == "number":
        typed = st.floats(schema.get("minimum"), schema.get("maximum")).map(str)
    elif "pattern" in schema:
        typed = st.from_regex(schema["pattern"], fullmatch=True).filter(
            lambda s: "\x00" not in s and len(s) < 400
        )
    else:
        typed = TEXT
    if name in ("room", "room_id", "live_id"):
        typed = st.one_of(ROOMS, typed)
    return st.one_of(typed, typed, JUNK)


def operation(path: str, spec: dict[str, Any], token: str) -> st.SearchStrategy[tuple[str, dict]]:
    """(url path, query params) for one operation; optional parameters sometimes left out."""
    params = spec.get("parameters", [])
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for p in params:
        strategy = value(p, token)
        if p["in"] == "query" and not p.get("required"):
            strategy = st.one_of(st.none(), strategy)
        fields[f"{p['in']}:{p['name']}"] = strategy

    def build(values: dict[str, Any]) -> tuple[str, dict[str, str]]:
        url = path
        query: dict[str, str] = {}
        for key, v in values.items():
            where, _, name = key.partition(":")
            if where == "path":
                url = url.replace("{" + name + "}", quote(v, safe="") or "x")
            elif v is not None:
                query[name] = v
        return url, query

    return st.fixed_dictionaries(fields).map(build)


def check(resp_status: int, content_type: str, body: bytes, what: str) -> None:
    assert resp_status < 500, f"{what}: {resp_status} {body[:300]!r}"
    if resp_status >= 400:
        assert content_type.startswith("application/json"), (what, content_type)
        envelope = orjson.loads(body)
        assert set(envelope) == {"code", "msg", "data"}, what


def fuzz(base: str, doc: dict[str, Any], token: str) -> int:
    """Run every operation's examples (blocking; in a worker thread). Requests sent."""
    sent = 0
    with httpx.Client(base_url=base, timeout=60) as client:

        def send(verb: str, example: tuple[str, dict[str, str]]) -> None:
            nonlocal sent
            url, query = example
            sent += 1
            what = f"{verb} {url} {query}"[:400]
            with client.stream(verb, url, params=query) as resp:
                kind = resp.headers.get("content-type", "")
                body = b"" if "event-stream" in kind else resp.read()
                check(resp.status_code, kind, body, what)

        def sender(verb: str) -> Any:
            def run(example: tuple[str, dict[str, str]]) -> None:
                send(verb, example)

            return run

        for path, ops in doc["paths"].items():
            for verb, spec in ops.items():
                given(example=operation(path, spec, token))(EXAMPLES(sender(verb.upper())))()
    return sent


async def test_openapi_operations_never_answer_5xx(tmp_path: Path, serve_api: Any) -> None:
    async with SimServer(SimConfig(seed=61, rate=5.0)) as sim:
        config = ServiceConfig(
            db=str(tmp_path / "f.sqlite3"), upstream=sim.base_url, signing="off", ranklist=False
        )
        async with serve_api(config) as (base, svc):
            token = await tokens.create(svc.store, "fuzz", room_limit=0)
            async with httpx.AsyncClient(base_url=base) as client:
                doc = orjson.loads((await client.get("/openapi.json")).content)
                # a room with stored messages, so reads have something to page through
                resp = await client.get(
                    "/douyin/liveroom/chat", params={"token": token, "room_id": DEFAULT_WEB_RID}
                )
                assert resp.status_code == 200
            operations = sum(len(ops) for ops in doc["paths"].values())
            sent = await asyncio.to_thread(fuzz, base, doc, token)
    assert operations >= 15 and sent >= operations * 10


def test_patterns_in_the_document_compile() -> None:
    from dylive.serve.api import openapi_document

    for ops in openapi_document()["paths"].values():
        for spec in ops.values():
            for p in spec.get("parameters", []):
                if "pattern" in p["schema"]:
                    re.compile(p["schema"]["pattern"])
