"""End to end: simulator → collector → store → analytics → HTTP report and `dylive report`,
compared exactly with the simulator's ground truth (``/__sim/rooms/{web_rid}/totals``)."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import httpx
import orjson
from support.waiting import until

from dylive.cli import main
from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import SimConfig, SimServer

WEB_RID = "90000000001"


def compare(report: dict[str, Any], truth: dict[str, Any]) -> None:
    assert report["messages"] == truth["counts"]
    assert report["gifts"] == truth["gifts"] > 0
    assert report["gift_diamonds"] == truth["gift_diamonds"] > 0
    assert report["gift_yinlang"] == truth["gift_diamonds"]
    assert report["gift_yuan"] == round(truth["gift_diamonds"] / 10, 2)
    assert report["likes"] == truth["likes"]
    assert report["follows"] == truth["follows"]
    assert report["shares"] == truth["shares"]
    assert report["fansclub_joins"] == truth["fansclub_joins"]
    assert report["unique_chatters"] == truth["unique_chatters"]
    assert report["viewers"]["peak"] == truth["peak_viewers"]
    assert [[g["uid"], g["diamonds"]] for g in report["top_gifters"]] == truth["top_gifters"]


async def test_report_equals_simulator_totals(tmp_path: Path, serve_api: Any) -> None:
    db = str(tmp_path / "r.sqlite3")
    async with SimServer(SimConfig(seed=11, rate=60.0, tick=0.05)) as sim:
        # silent until collected from its first message on; re-sent messages are ignored rows
        sim.create_room(WEB_RID, rate=0, title="分析", faults={"duplicates": 0.2})
        config = ServiceConfig(db=db, upstream=sim.base_url, signing="v2")
        async with (
            serve_api(config) as (base, svc),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
            httpx.AsyncClient(base_url=sim.base_url, timeout=30) as upstream,
        ):
            token = await tokens.create(svc.store, "analytics")
            auth = {"token": token}
            resp = await client.post(f"/api/rooms/{WEB_RID}/pin", params=auth)
            assert resp.status_code == 200, resp.text
            room_id = sim.room(WEB_RID)["room_id"]

            async def opening() -> bool:
                return await svc.store.last_seq(room_id) > 0

            await until(opening, 60, "the opening messages to be stored")
            sim.set_rate(WEB_RID, 60.0)

            async def gifts() -> int:
                return int(sim.totals(WEB_RID, 1)["gifts"] >= 40)

            await until(gifts, 60, "the simulator to send gifts")
            sim.inject(WEB_RID, "WebcastGiftMessage", gift_id=2002, count=6)
            sim.end(WEB_RID)

            async def ended() -> list[dict[str, Any]] | None:
                r = await client.get(f"/api/rooms/{WEB_RID}/sessions", params=auth)
                assert r.status_code == 200, r.text
                sessions: list[dict[str, Any]] = r.json()["data"]["sessions"]
                return sessions if sessions and sessions[0]["ended_at"] else None

            sessions = await until(ended, 60, "the session to end")
            session = sessions[0]
            assert session["room_id"] == sim.room(WEB_RID)["room_id"]
            assert session["web_rid"] == WEB_RID and session["live"] is False
            assert session["title"] and session["anchor"]

            truth = (await upstream.get(f"/__sim/rooms/{WEB_RID}/totals?since=1")).json()
            assert truth["from_seq"] == 1 and truth["to_seq"] == len(sim.log(WEB_RID))
            url = f"/api/sessions/{session['id']}/report"
            body = (await client.get(url, params={**auth, "top": 10_000})).json()
            assert body["code"] == 200
            report = body["data"]
            compare(report, truth)
            rec = report["reconciliation"]
            assert rec["users"] and rec["diff_total"] == 0 and rec["douyin_total"] > 0
            assert report["session"]["id"] == session["id"]

            md = await client.get(url, params={**auth, "format": "md"})
            assert md.headers["content-type"].startswith("text/markdown")
            assert f"gifts: {truth['gifts']} = {truth['gift_diamonds']} 抖币" in md.text
            rows = list(
                csv.reader(
                    io.StringIO((await client.get(url, params={**auth, "format": "csv"})).text)
                )
            )
            assert ["totals", "gift_diamonds", str(truth["gift_diamonds"])] in rows

            out = tmp_path / "report.json"
            args = ["report", str(session["id"]), "--db", db, "--format", "json", "--top", "10000"]
            code = await asyncio.to_thread(main, [*args, "--output", str(out)])
            assert code == 0
            compare(orjson.loads(out.read_bytes()), truth)
            code = await asyncio.to_thread(
                main, ["report", "--room", WEB_RID, "--db", db, "-o", str(out)]
            )
            assert code == 0 and f"{truth['gift_diamonds']} 抖币" in out.read_text()


async def test_session_endpoint_errors(offline_api: Any, make_token: Any) -> None:
    client, svc = offline_api
    token = await make_token(svc)
    cases = [
        ("/api/sessions/999/report", {}, 404, 40402),
        ("/api/sessions/abc/report", {}, 400, 40005),
        ("/api/sessions/1/report", {"top": "-1"}, 400, 40005),
        ("/api/sessions/1/report", {"format": "xml"}, 400, 40005),
        ("/api/rooms/not-a-room/sessions", {}, 400, 40004),
    ]
    for path, params, status, code in cases:
        resp = await client.get(path, params={"token": token, **params})
        assert resp.status_code == status, (path, resp.text)
        assert resp.json()["code"] == code
    resp = await client.get("/api/sessions/1/report")
    assert resp.status_code == 401 and resp.json()["code"] == 40001
    resp = await client.get("/api/rooms/615189692839/sessions", params={"token": token})
    assert resp.json() == {"code": 200, "msg": "成功", "data": {"sessions": []}}


def test_report_cli_errors(tmp_path: Path, capsys: Any) -> None:
    assert main(["report", "1", "--db", str(tmp_path / "none.db")]) == 2
    assert "no database file" in capsys.readouterr().err
    assert main(["report", "--db", str(tmp_path / "none.db")]) == 2
    assert "SESSION" in capsys.readouterr().err
