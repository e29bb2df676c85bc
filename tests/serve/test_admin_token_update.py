"""A token's plan changed in place (``PATCH /api/admin/tokens/{token}``, ``dylive token update``)
on each backend: the next request of the token meets the new quota, rate or expiry (the secret
stays); each bad field is refused with 40005 naming it in ``data.field``; an unknown or revoked
token with 40404; every change in the audit log with each changed field before and after; and a
change made by another process (``dylive token update``) is met by this service's next request
(SQLite: the token change mark; PostgreSQL: the token notification)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from support.waiting import until

from dylive.serve.admin_api import key_digest
from dylive.serve.app import ServiceConfig
from dylive.store import TokenChange

KEY = "admin-key-for-the-tests-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
TOKENS = "/api/admin/tokens"


@pytest.fixture
async def admin(store_url: str, serve_api: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    config = ServiceConfig(
        db=store_url,
        upstream="http://127.0.0.1:9",
        ranklist=False,
        fleet=False,
        admin_key_digest=key_digest(KEY),
    )
    async with serve_api(config) as (base, svc), httpx.AsyncClient(base_url=base) as client:
        yield client, svc


async def _create(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    resp = await client.post(TOKENS, headers=AUTH, json=body)
    assert resp.status_code == 200, resp.text
    created: dict[str, Any] = resp.json()["data"]
    return created


async def _patch(client: httpx.AsyncClient, ident: str | int, body: Any) -> httpx.Response:
    return await client.patch(f"{TOKENS}/{ident}", headers=AUTH, json=body)


async def _rooms(client: httpx.AsyncClient, secret: str) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get("/api/rooms", params={"token": secret})).json()
    return body


async def test_a_lowered_quota_refuses_the_next_request_and_a_raised_one_admits_it(
    admin: Any,
) -> None:
    client, svc = admin
    created = await _create(client, {"name": "customer", "quota": {"requests_per_day": 100}})
    secret = created["token"]
    for _ in range(3):
        assert (await _rooms(client, secret))["code"] == 200
    resp = await _patch(client, "customer", {"quota": {"requests_per_day": 3}})
    assert resp.status_code == 200, resp.text
    view = resp.json()["data"]
    assert view["quota"] == {"requests_per_day": 3} and view["id"] == created["id"]
    assert "token" not in view  # the secret is never shown again
    refused = await _rooms(client, secret)
    assert refused["code"] == 42902, refused
    assert refused["data"]["quota"] == "requests_per_day" and refused["data"]["limit"] == 3
    # raised (by id), with a month quota beside it: admitted again, the same secret
    body = {"quota": {"requests_per_day": 10, "messages_per_month": 500}}
    resp = await _patch(client, created["id"], body)
    assert resp.json()["data"]["quota"] == {"requests_per_day": 10, "messages_per_month": 500}
    assert (await _rooms(client, secret))["code"] == 200
    # a quota field given alone leaves the others as they are; 0 lifts it
    resp = await _patch(client, "customer", {"quota": {"requests_per_day": 0}})
    assert resp.json()["data"]["quota"] == {"messages_per_month": 500}
    # the rate too: one request a second, a burst of one
    resp = await _patch(client, "customer", {"quota": {"requests_per_second": 0.001}})
    assert resp.json()["data"]["rate"] == 0.001
    codes = [(await _rooms(client, secret))["code"] for _ in range(2)]
    assert codes == [200, 42901]
    listed = (await client.get(TOKENS, headers=AUTH)).json()["data"]["tokens"]
    assert [(t["name"], t["rate"], t["quota"]) for t in listed] == [
        ("customer", 0.001, {"messages_per_month": 500})
    ]
    stored = (await svc.store.list_tokens())[0]
    assert stored.quota.requests_per_day == 0 and stored.quota.messages_per_month == 500


async def test_an_expiry_moved_earlier_refuses_and_a_cleared_one_admits(admin: Any) -> None:
    client, _svc = admin
    created = await _create(client, {"name": "trial", "expires_in": 3600})
    secret = created["token"]
    assert (await _rooms(client, secret))["code"] == 200
    resp = await _patch(client, "trial", {"expires_in": 1})
    assert resp.status_code == 200 and resp.json()["data"]["expires_at"] != created["expires_at"]

    async def expired() -> dict[str, Any] | None:
        body = await _rooms(client, secret)
        return body if body["code"] != 200 else None

    refused = await until(expired, 15, "the moved expiry refuses")
    assert refused["code"] == 40002 and refused["data"]["detail"] == "the token has expired"
    # an expired token is still active (not revoked): its plan can be extended
    resp = await _patch(client, "trial", {"expires_at": None})
    assert resp.status_code == 200 and resp.json()["data"]["expires_at"] is None
    assert resp.json()["data"]["status"] == "active"
    assert (await _rooms(client, secret))["code"] == 200


BAD = (
    ({"quota": {"requests_per_day": -1}}, "quota.requests_per_day"),
    ({"quota": {"requests_per_day": 1.5}}, "quota.requests_per_day"),
    ({"quota": {"messages_per_month": 10**13}}, "quota.messages_per_month"),
    ({"quota": {"bogus": 1}}, "quota.bogus"),
    ({"quota": 5}, "quota"),
    ({"quota": {"requests_per_second": -2}}, "quota.requests_per_second"),
    ({"rate": "fast"}, "rate"),
    ({"rate": 1e300}, "rate"),
    ({"room_limit": -1}, "room_limit"),
    ({"room_limit": 10**30}, "room_limit"),  # beyond any integer column
    ({"room_limit": True}, "room_limit"),
    ({"name": ""}, "name"),
    ({"name": "x" * 65}, "name"),
    ({"name": "a\u0000b"}, "name"),  # PostgreSQL's text refuses NUL
    ({"name": "taken"}, "name"),  # another active token's name
    ({"expires_at": "2001-01-01"}, "expires_at"),
    ({"expires_at": "someday"}, "expires_at"),
    ({"expires_at": 1e300}, "expires_at"),
    ({"expires_at": "2999-01-01"}, "expires_at"),
    ({"expires_at": 5, "expires_in": 5}, "expires_at"),
    ({"expires_in": -1}, "expires_in"),
    ({"expire_at": 5}, "expire_at"),  # a misspelt field changes nothing
)


async def test_bad_fields_unknown_and_revoked_tokens_are_refused_and_audited(
    admin: Any,
) -> None:
    client, _svc = admin
    created = await _create(client, {"name": "customer", "room_limit": 2, "rate": 4})
    await _create(client, {"name": "taken"})
    for body, field in BAD:
        resp = await _patch(client, "customer", body)
        answer = resp.json()
        assert resp.status_code == 400 and answer["code"] == 40005, (body, resp.text)
        assert answer["data"]["field"] == field, (body, answer)
    # the same checks on create (one validator): the field is named there too
    for body, field in BAD[9:11] + BAD[13:14]:
        resp = await client.post(TOKENS, headers=AUTH, json={"name": "new", **body})
        assert resp.json()["code"] == 40005 and resp.json()["data"]["field"] == field
    resp = await client.patch(f"{TOKENS}/customer", headers=AUTH, content=b"[not json")
    assert resp.status_code == 400 and resp.json()["code"] == 40005
    listed = (await client.get(TOKENS, headers=AUTH)).json()["data"]["tokens"]
    assert (listed[0]["name"], listed[0]["room_limit"], listed[0]["rate"]) == ("customer", 2, 4)
    assert listed[0]["quota"] == {} and listed[0]["expires_at"] is None
    # unknown and revoked tokens
    resp = await _patch(client, "nobody", {"rate": 1})
    assert resp.status_code == 404 and resp.json()["code"] == 40404
    assert (await client.delete(f"{TOKENS}/taken", headers=AUTH)).status_code == 200
    resp = await _patch(client, "taken", {"rate": 1})
    assert resp.status_code == 404 and resp.json()["code"] == 40404
    assert "revoked" in resp.json()["data"]["detail"]
    # the revoked token's name is free: a rename to it works, and changes nothing else
    resp = await _patch(client, created["id"], {"name": "taken"})
    assert resp.status_code == 200, resp.text
    assert (resp.json()["data"]["name"], resp.json()["data"]["rate"]) == ("taken", 4)
    resp = await client.get("/api/admin/audit", headers=AUTH, params={"limit": 1000})
    updates = [e for e in resp.json()["data"]["entries"] if e["action"] == "tokens.update"]
    assert [e["code"] for e in reversed(updates)] == [40005] * (len(BAD) + 1) + [
        40404,
        40404,
        200,
    ]
    assert updates[0]["target"] == f"{created['id']}:taken"
    # a refused change names the token it was asked for (as given: a name or an id)
    assert [e["target"] for e in updates[1:4]] == ["taken", "nobody", "customer"]
    assert updates[0]["detail"] == "name 'customer' -> 'taken'"


async def test_every_change_is_audited_with_before_and_after(admin: Any) -> None:
    client, _svc = admin
    body = {"name": "c", "room_limit": 2, "quota": {"requests_per_day": 5}, "expires_in": 60}
    created = await _create(client, body)
    change = {
        "room_limit": 7,
        "rate": 2.5,
        "quota": {"requests_per_day": 50, "messages_per_day": 9},
        "expires_at": None,
    }
    assert (await _patch(client, "c", change)).status_code == 200
    assert (await _patch(client, "c", {"room_limit": 7})).status_code == 200  # no change
    resp = await client.get("/api/admin/audit", headers=AUTH, params={"limit": 2})
    same, first = resp.json()["data"]["entries"]
    assert (first["action"], first["code"], first["actor"]) == ("tokens.update", 200, "127.0.0.1")
    assert first["target"] == f"{created['id']}:c"
    assert first["detail"] == (
        "room_limit 2 -> 7, rate 0 -> 2.5, quota.requests_per_day 5 -> 50,"
        f" quota.messages_per_day 0 -> 9, expires_at {created['expires_at']} -> never"
    )
    assert same["detail"] == "unchanged"


async def test_a_change_by_another_process_is_met_by_the_next_request(admin: Any) -> None:
    """``dylive token update`` (a process of its own, on the same database) lowers the quota:
    this service's next request meets it. The caches are made to last an hour, so only the
    change mechanism (SQLite's mark, PostgreSQL's notification) can make it seen."""
    client, svc = admin
    sqlite = not svc.config.db.startswith("postgresql://")
    if sqlite:  # the token_generation recheck pushed out of reach: the mark alone
        svc.store._recheck_at = float("inf")
    else:  # PostgreSQL's token cache: the notification alone
        svc.store._tokens.ttl = 3600.0
    plan = {"name": "remote", "quota": {"requests_per_day": 10**6}}
    secret = (await _create(client, plan))["token"]
    for _ in range(2):
        assert (await _rooms(client, secret))["code"] == 200
    command = [sys.executable, "-m", "dylive", "--log-level", "warning", "token", "update"]
    done = await asyncio.create_subprocess_exec(
        *command,
        "remote",
        "--requests-per-day",
        "2",
        "--db",
        svc.config.db,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(done.communicate(), 60)
    assert done.returncode == 0, err
    assert out.decode() == (
        "updated the token named 'remote': quota.requests_per_day 1000000 -> 2\n"
    )

    if sqlite:  # the mark was rewritten before the command exited: the very next request
        answer = await _rooms(client, secret)
        assert answer["code"] == 42902 and answer["data"]["limit"] == 2, answer
        return

    async def refused() -> bool:  # the notification arrives asynchronously
        answer = await _rooms(client, secret)
        return answer["code"] == 42902 and answer["data"]["limit"] == 2

    await until(refused, 10, "the other process's quota met", every=0.2)


async def test_a_renamed_token_is_shown_under_its_new_name_in_the_metrics(admin: Any) -> None:
    """The per-token series (``dylive_token_*{token=NAME}``) follow a rename: the process kept
    the name it first saw for the token's id, so a renamed token stayed under its old name (and a
    new token given that name would have two series with one label)."""
    client, _ = admin
    made = await _create(client, {"name": "before"})
    secret = made["token"]
    assert (await _rooms(client, secret))["code"] == 200
    assert (await _patch(client, "before", {"name": "after"})).status_code == 200
    assert (await _rooms(client, secret))["code"] == 200
    text = (await client.get("/metrics")).text
    assert f'dylive_token_requests_total{{token="after",token_id="{made["id"]}"}} 2.0' in text
    assert 'token="before"' not in text


async def test_a_rate_too_small_to_wait_for_answers_42901_not_a_500(admin: Any) -> None:
    """A rate of 5e-324 requests/s makes the wait for the token's next request infinite: its
    Retry-After was int(inf), an OverflowError, and every request of the token after its first
    answered 50000 (HTTP 500). Such a rate is refused now (40005, at least 0.001 requests/s);
    a token stored with one by an earlier release still answers 42901 with a capped Retry-After."""
    client, svc = admin
    secret = (await _create(client, {"name": "slow"}))["token"]
    resp = await client.patch(f"{TOKENS}/slow", headers=AUTH, content=b'{"rate": 5e-324}')
    assert resp.status_code == 400 and resp.json()["code"] == 40005, resp.text
    assert resp.json()["data"]["field"] == "rate"
    token_id = next(t.id for t in await svc.store.list_tokens() if t.name == "slow")
    assert await svc.store.update_token(token_id, TokenChange(rate=5e-324)) is not None
    assert (await _rooms(client, secret))["code"] == 200  # the burst of one
    resp = await client.get("/api/rooms", params={"token": secret})
    assert resp.status_code == 429 and resp.json()["code"] == 42901, resp.text
    assert resp.headers["retry-after"] == str(10 * 365 * 86400)


def _token_series(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"dylive_token_{name}_total{{")]


async def test_two_tokens_that_had_one_name_keep_their_own_series(admin: Any) -> None:
    """A name is unique among active tokens only: "x" revoked and a new "x" created, and "y"
    renamed to a name freed that way, each gave two token ids one label value. The exposition
    then held two samples of one series (``{token="x"} 1.0`` and ``{token="x"} 3.0``):
    Prometheus keeps one of them, whichever the busiest-first order puts first (a counter
    that jumps between two tokens' counts), and drops the other as a duplicate. The id label
    (``token_id``) keeps each token's series its own, with its own count."""
    client, _ = admin
    first = await _create(client, {"name": "x"})
    assert (await _rooms(client, first["token"]))["code"] == 200
    assert (await client.delete(f"{TOKENS}/x", headers=AUTH)).status_code == 200
    second = await _create(client, {"name": "x"})
    for _ in range(3):
        assert (await _rooms(client, second["token"]))["code"] == 200
    other = await _create(client, {"name": "y"})
    assert (await client.delete(f"{TOKENS}/x", headers=AUTH)).status_code == 200
    assert (await _patch(client, "y", {"name": "x"})).status_code == 200
    for _ in range(2):
        assert (await _rooms(client, other["token"]))["code"] == 200
    text = (await client.get("/metrics")).text
    series = _token_series(text, "requests")
    labels = [line.rsplit(" ", 1)[0] for line in series]
    assert len(series) == 3 and len(set(labels)) == 3  # one series per token, none twice
    assert len({first["id"], second["id"], other["id"]}) == 3
    for token, count in ((first, 1), (second, 3), (other, 2)):
        want = f'dylive_token_requests_total{{token="x",token_id="{token["id"]}"}} {count}.0'
        assert want in series, (want, series)
