"""The admin API: refused without the admin key (and off without one configured), tokens
created with quotas and expiry (the secret shown once), listed with usage, revoked; usage of
every token; every action (refusals too) in the audit log."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dylive.serve.admin_api import key_digest
from dylive.serve.app import ServiceConfig

KEY = "admin-key-for-the-tests-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
ROUTES = (
    ("POST", "/api/admin/tokens"),
    ("GET", "/api/admin/tokens"),
    ("PATCH", "/api/admin/tokens/1"),
    ("DELETE", "/api/admin/tokens/1"),
    ("GET", "/api/admin/usage"),
    ("GET", "/api/admin/audit"),
)


@pytest.fixture
async def admin(db_path: str, serve_api: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    config = ServiceConfig(
        db=db_path,
        upstream="http://127.0.0.1:9",
        ranklist=False,
        admin_key_digest=key_digest(KEY),
    )
    async with serve_api(config) as (base, svc), httpx.AsyncClient(base_url=base) as client:
        yield client, svc


async def test_without_an_admin_key_configured_the_admin_api_is_off(offline_api: Any) -> None:
    client, svc = offline_api
    for method, path in ROUTES:
        resp = await client.request(method, path, headers=AUTH, json={"name": "x"})
        assert resp.status_code == 403 and resp.json()["code"] == 40303, (path, resp.text)
    assert await svc.store.list_tokens() == []
    assert await svc.store.audit() == []


async def test_admin_routes_refuse_without_the_key(admin: Any) -> None:
    client, svc = admin
    refusals = (
        {},
        {"Authorization": "Bearer wrong-key-of-some-length"},
        {"Authorization": KEY},  # not a Bearer header
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {KEY}x"},
    )
    for headers in refusals:
        for method, path in ROUTES:
            resp = await client.request(method, path, headers=headers, json={"name": "x"})
            assert resp.status_code == 401, (headers, path, resp.text)
            body = resp.json()
            assert body["code"] == 40101 and body["msg"] == "管理密钥无效"
            assert KEY not in resp.text
    assert await svc.store.list_tokens() == []
    entries = await svc.store.audit(1000)
    assert len(entries) == len(refusals) * len(ROUTES)
    assert {e.code for e in entries} == {40101}
    assert {e.action for e in entries} == {
        "tokens.create",
        "tokens.list",
        "tokens.update",
        "tokens.revoke",
        "usage.read",
        "audit.read",
    }
    assert all(KEY not in e.detail for e in entries)


async def test_tokens_created_listed_revoked_and_every_action_audited(admin: Any) -> None:
    client, svc = admin
    body = {
        "name": "customer-1",
        "room_limit": 3,
        "quota": {"requests_per_day": 2, "messages_per_month": 1000, "requests_per_second": 5},
        "expires_in": 3600,
    }
    resp = await client.post("/api/admin/tokens", headers=AUTH, json=body)
    assert resp.status_code == 200, resp.text
    created = resp.json()["data"]
    secret = created["token"]
    assert secret.startswith("dyl_")
    assert created["name"] == "customer-1" and created["status"] == "active"
    assert created["room_limit"] == 3 and created["rate"] == 5
    assert created["quota"] == {"requests_per_day": 2, "messages_per_month": 1000}
    expires = time.strptime(created["expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert 3500 < time.mktime(expires) - time.mktime(time.gmtime()) <= 3600
    # the secret works, with its quota
    for _ in range(2):
        assert (await client.get("/api/rooms", params={"token": secret})).status_code == 200
    refused = await client.get("/api/rooms", params={"token": secret})
    assert refused.json()["code"] == 42902
    # a second token with the same name is refused; bad bodies are refused
    for bad in (
        {"name": "customer-1"},
        {"name": ""},
        {"name": "x", "quota": {"requests_per_day": -1}},
        {"name": "x", "quota": {"bogus": 1}},
        {"name": "x", "quota": {"requests_per_day": 1.5}},
        {"name": "x", "room_limit": "many"},
        {"name": "x", "expires_at": "2001-01-01"},
        {"name": "x", "expires_at": 5, "expires_in": 5},
        {"name": "x", "expires_at": 1e300},  # out of any integer column's range
        {"name": "x", "expires_at": "2999-01-01"},  # more than 10 years ahead
    ):
        resp = await client.post("/api/admin/tokens", headers=AUTH, json=bad)
        assert resp.status_code == 400 and resp.json()["code"] == 40005, (bad, resp.text)
    resp = await client.post("/api/admin/tokens", headers=AUTH, content=b"[not json")
    assert resp.json()["code"] == 40005
    # listed with usage, never with a secret or digest
    await svc.meter.flush()
    resp = await client.get("/api/admin/tokens", headers=AUTH)
    listed = resp.json()["data"]["tokens"]
    assert [t["name"] for t in listed] == ["customer-1"]
    assert listed[0]["usage"]["today"] == {"billable": 2, "messages": 0}
    assert listed[0]["usage"]["month"]["billable"] == 2
    assert secret not in resp.text and listed[0].get("digest") is None
    # usage of every token
    resp = await client.get("/api/admin/usage", headers=AUTH, params={"token": "customer-1"})
    report = resp.json()["data"]["tokens"]
    assert [r["token"] for r in report] == ["customer-1"]
    assert report[0]["total"]["by_endpoint"] == {"rooms": {"200": 2, "42902": 1}}
    resp = await client.get("/api/admin/usage", headers=AUTH, params={"token": "nobody"})
    assert resp.status_code == 404 and resp.json()["code"] == 40404
    # revoke by name; then the token is refused and a second revoke finds nothing
    resp = await client.delete("/api/admin/tokens/customer-1", headers=AUTH)
    assert resp.status_code == 200 and resp.json()["data"]["revoked"] is True
    gone = await client.get("/api/rooms", params={"token": secret})
    assert gone.status_code == 401 and gone.json()["code"] == 40002
    resp = await client.delete(f"/api/admin/tokens/{created['id']}", headers=AUTH)
    assert resp.status_code == 404 and resp.json()["code"] == 40404
    # the audit log has every action, newest first, with its outcome
    await client.get("/api/admin/audit", headers=AUTH)
    resp = await client.get("/api/admin/audit", headers=AUTH, params={"limit": 100})
    entries = resp.json()["data"]["entries"]
    actions = [(e["action"], e["code"]) for e in reversed(entries)]
    assert actions == [
        ("tokens.create", 200),
        *[("tokens.create", 40005)] * 11,
        ("tokens.list", 200),
        ("usage.read", 200),
        ("usage.read", 40404),
        ("tokens.revoke", 200),
        ("tokens.revoke", 40404),
        ("audit.read", 200),
    ]
    first = entries[-1]
    assert first["target"] == f"{created['id']}:customer-1" and first["actor"] == "127.0.0.1"
    assert "requests_per_day" in first["detail"] and secret not in resp.text
    resp = await client.get("/api/admin/audit", headers=AUTH, params={"limit": "0"})
    assert resp.json()["code"] == 40005


async def test_wrong_keys_are_rate_limited_per_address_and_not_all_audited(
    db_path: str, serve_api: Any
) -> None:
    config = ServiceConfig(
        db=db_path,
        upstream="http://127.0.0.1:9",
        ranklist=False,
        admin_key_digest=key_digest(KEY),
        anon_rate=0.01,  # one wrong key, then refused for 100 s
    )
    async with serve_api(config) as (base, svc), httpx.AsyncClient(base_url=base) as client:
        codes = []
        for _ in range(5):
            resp = await client.get("/api/admin/tokens", headers={"Authorization": "Bearer x"})
            codes.append(resp.json()["code"])
        assert codes == [40101, 42901, 42901, 42901, 42901]
        assert resp.status_code == 429 and "retry-after" in resp.headers
        # the right key is not limited by the wrong ones
        assert (await client.get("/api/admin/tokens", headers=AUTH)).status_code == 200
        entries = await svc.store.audit()
        assert [(e.action, e.code) for e in entries] == [
            ("tokens.list", 200),
            ("tokens.list", 40101),
        ]


async def test_a_token_reference_is_an_id_before_a_name_and_odd_digits_are_refused(
    admin: Any,
) -> None:
    """``/api/admin/tokens/3`` is the token with id 3 even when an older token is *named* "3"
    (it matched whichever the listing gave first); a reference like ``²`` (``str.isdigit`` but
    not a number ``int`` reads) is a plain 40404, not a 500."""
    client, _ = admin
    ids = {}
    for name in ("3", "second", "third"):
        resp = await client.post("/api/admin/tokens", headers=AUTH, json={"name": name})
        ids[name] = resp.json()["data"]["id"]
    assert ids["third"] == 3 and ids["3"] != 3
    resp = await client.patch("/api/admin/tokens/3", headers=AUTH, json={"room_limit": 7})
    assert resp.status_code == 200 and resp.json()["data"]["name"] == "third", resp.text
    resp = await client.delete("/api/admin/tokens/3", headers=AUTH)
    assert resp.json()["data"] == {"id": 3, "name": "third", "revoked": True}
    resp = await client.delete("/api/admin/tokens/3", headers=AUTH)  # id 3 is revoked now
    assert resp.status_code == 404 and "revoked" in resp.json()["data"]["detail"]
    resp = await client.delete(f"/api/admin/tokens/{ids['3']}", headers=AUTH)  # "3" by its id
    assert resp.json()["data"]["name"] == "3"
    for odd in ("²", "３", "9" * 40):
        for method in ("PATCH", "DELETE"):
            resp = await client.request(method, f"/api/admin/tokens/{odd}", headers=AUTH, json={})
            assert resp.status_code == 404 and resp.json()["code"] == 40404, (odd, resp.text)
        resp = await client.get("/api/admin/usage", headers=AUTH, params={"token": odd})
        assert resp.status_code == 404 and resp.json()["code"] == 40404, (odd, resp.text)
