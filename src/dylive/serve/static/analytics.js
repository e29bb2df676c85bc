// dylive dashboard, analytics panel: the room's broadcasts (sessions) and charts of the
// running one (viewers, chat/min, diamonds/min), refreshed every 15 s from
// /api/rooms/{room}/sessions and /api/sessions/{id}/report. Each session links to /report.
"use strict";

(function () {
  const EVERY_MS = 15000;
  const C = window.dyliveCharts;
  const $ = (id) => document.getElementById(id);
  const el = {
    form: $("connect"), token: $("token"), room: $("room"),
    charts: $("charts"), sessions: $("sessions"), note: $("charts-note"),
  };
  let timer = null;
  let current = { token: "", room: "", session: null, points: 0 };

  function roomOf(text) {
    const t = (text || "").trim();
    const m = t.match(/live\.douyin\.com\/(\d+)/);
    return m ? m[1] : t;
  }

  function when(ms) {
    return ms ? C.dateTime(ms) : "—";
  }

  async function get(path, params) {
    const r = await fetch(path + "?" + new URLSearchParams(params).toString());
    return C.parse(await r.text());
  }

  function renderSessions(sessions, token) {
    if (!sessions.length) {
      el.sessions.replaceChildren(C.node("li", "muted empty", "no broadcast stored yet · 暂无场次"));
      return;
    }
    el.sessions.replaceChildren(...sessions.slice(0, 10).map((s) => {
      const li = C.node("li");
      const a = C.node("a", "", "#" + s.id + " " + (s.title || s.web_rid));
      a.href = "/report?session=" + encodeURIComponent(s.id);
      li.dataset.session = String(s.id);
      li.append(a, C.node("span", "muted", " " + when(s.started_at) + (s.live ? " · 直播中 live" : " · " + Math.round(s.duration_seconds / 60) + " min")));
      return li;
    }));
  }

  async function refresh() {
    const { token, room } = current;
    if (!token || !room) return;
    let body;
    try {
      body = await get("/api/rooms/" + encodeURIComponent(room) + "/sessions", { token: token });
    } catch (e) {
      return;
    }
    if (body.code !== 200) {
      el.note.textContent = "error " + body.code + ": " + body.msg;
      if (body.code === 40001 || body.code === 40002) stop(); // a bad token is never retried
      return;
    }
    const sessions = body.data.sessions || [];
    renderSessions(sessions, token);
    if (!sessions.length) return;
    const session = sessions[0];
    const report = await get("/api/sessions/" + encodeURIComponent(session.id) + "/report", { token: token, top: 10 });
    if (report.code !== 200) return;
    const series = report.data.series;
    current.session = session.id;
    current.points = series.minute.length;
    const shown = C.draw(el.charts, series, { live: !!session.live });
    const cut = shown.open ? " · dashed: the current minute, still filling" : "";
    el.note.textContent = "session #" + session.id + (session.live ? " (live)" : " (ended)") + " · " + series.minute.length + " min" + cut;
  }

  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
  }

  function start(token, roomText) {
    stop();
    current = { token: token, room: roomOf(roomText), session: null, points: 0 };
    refresh();
    timer = setInterval(refresh, EVERY_MS);
  }

  el.form.addEventListener("submit", () => start(el.token.value.trim(), el.room.value));
  // the dashboard may have connected from the query string before this script ran
  setTimeout(() => { if (el.token.value && el.room.value) start(el.token.value.trim(), el.room.value); }, 0);

  window.dyliveAnalytics = Object.freeze({
    summary: () => ({ session: current.session, points: current.points, polling: timer !== null }),
    refresh: refresh,
  });
})();
