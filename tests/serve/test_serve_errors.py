"""Every error gets its own code, Chinese msg and HTTP status in the envelope; never a 500."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson

from dylive.serve import errors
from dylive.serve.api import openapi_document

CHAT = "/douyin/liveroom/chat"
AUDIENCE = "/douyin/liveroom/audience"


def envelope(resp: Any, kind: errors.ErrorKind) -> dict[str, Any]:
    body = orjson.loads(resp.content)
    assert resp.status_code == kind.status, resp.text
    assert set(body) == {"code", "msg", "data"}
    assert body["code"] == kind.code and body["msg"] == kind.msg
    assert resp.headers["content-type"].startswith("application/json")
    assert "Traceback" not in resp.text
    return body


def test_codes_are_unique_and_documented() -> None:
    codes = [k.code for k in errors.ALL_ERRORS]
    assert len(codes) == len(set(codes))
    table = errors.error_table()  # what docs/api.md shows (tests/serve/test_api_docs.py)
    for kind in errors.ALL_ERRORS:
        assert (
            errors.MEANING[kind.code] and f"| {kind.code} | {kind.status} | {kind.msg} |" in table
        )


async def test_auth_and_parameter_errors(offline_api: Any, make_token: Any) -> None:
    client, svc = offline_api
    token = await make_token(svc)
    for path in (CHAT, AUDIENCE):
        envelope(await client.get(path), errors.MISSING_TOKEN)
        envelope(await client.get(path, params={"token": "dyl_nope"}), errors.BAD_TOKEN)
        envelope(await client.get(path, params={"token": token}), errors.MISSING_ROOM)
        for bad in ("abc", "https://example.com/x", "12a4", " "):
            resp = await client.get(path, params={"token": token, "room_id": bad})
            expected = errors.MISSING_ROOM if not bad.strip() else errors.BAD_ROOM
            envelope(resp, expected)
    base = {"token": token, "room_id": "615189692839"}
    for extra in (
        {"count": "x"},
        {"count": "0"},
        {"count": "100000"},
        {"wait": "-1"},
        {"wait": "nan?"},
        {"methods": "DROP TABLE"},
        {"cursor": "garbage"},
        {"internal_ext": "fetch_time:1|door:1"},
    ):
        envelope(await client.get(CHAT, params={**base, **extra}), errors.BAD_PARAM)


async def test_bearer_header_is_accepted(offline_api: Any, make_token: Any) -> None:
    client, svc = offline_api
    token = await make_token(svc)
    resp = await client.get(CHAT, headers={"Authorization": f"Bearer {token}"})
    envelope(resp, errors.MISSING_ROOM)


async def test_upstream_failure_is_502(offline_api: Any, make_token: Any) -> None:
    client, svc = offline_api
    token = await make_token(svc)
    for path in (CHAT, AUDIENCE):
        resp = await client.get(path, params={"token": token, "room_id": "615189692839"})
        body = envelope(resp, errors.UPSTREAM)
        assert body["data"]["detail"]


async def test_unknown_path_and_method(offline_api: Any) -> None:
    client, _ = offline_api
    envelope(await client.get("/nope"), errors.NOT_FOUND)
    envelope(await client.post(CHAT), errors.METHOD_NOT_ALLOWED)


async def test_rate_limit_with_retry_after(offline_api: Any, make_token: Any) -> None:
    client, svc = offline_api
    token = await make_token(svc, "slow", rate=0.5)
    other = await make_token(svc, "other")
    envelope(await client.get(CHAT, params={"token": token}), errors.MISSING_ROOM)
    resp = await client.get(CHAT, params={"token": token})
    envelope(resp, errors.RATE_LIMITED)
    assert int(resp.headers["Retry-After"]) >= 1
    # other tokens are not affected
    envelope(await client.get(CHAT, params={"token": other}), errors.MISSING_ROOM)


async def test_revocation_is_immediate(offline_api: Any, make_token: Any) -> None:
    client, svc = offline_api
    token = await make_token(svc, "gone")
    envelope(await client.get(CHAT, params={"token": token}), errors.MISSING_ROOM)
    assert await svc.store.revoke_token("gone") == 1
    envelope(await client.get(CHAT, params={"token": token}), errors.BAD_TOKEN)


async def test_cli_revocation_from_another_process(
    offline_api: Any, make_token: Any, db_path: str
) -> None:
    client, svc = offline_api
    token = await make_token(svc, "cli")
    envelope(await client.get(CHAT, params={"token": token}), errors.MISSING_ROOM)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dylive",
        "token",
        "revoke",
        "--db",
        db_path,
        "cli",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0 and b"revoked the token named 'cli'" in out
    envelope(await client.get(CHAT, params={"token": token}), errors.BAD_TOKEN)


async def test_operational_endpoints(offline_api: Any, make_token: Any) -> None:
    client, svc = offline_api
    token = await make_token(svc)
    health = orjson.loads((await client.get("/healthz")).content)
    assert health["code"] == 200 and health["data"]["status"] == "ok"
    doc = orjson.loads((await client.get("/openapi.json")).content)
    assert doc == orjson.loads(orjson.dumps(openapi_document()))
    assert CHAT in doc["paths"] and AUDIENCE in doc["paths"]
    assert "40001" in (await client.get("/docs")).text
    envelope(await client.get("/api/rooms"), errors.MISSING_TOKEN)
    rooms = orjson.loads((await client.get("/api/rooms", params={"token": token})).content)
    assert rooms["data"]["rooms"] == []
    metrics = (await client.get("/metrics")).text
    assert 'dylive_http_requests_total{code="200",endpoint="rooms"}' in metrics
