// dylive report page: /report?session=ID (token from ?token= or the dashboard's localStorage).
// Reads /api/sessions/{id}/report and shows its figures, charts and tables as the API gives them.
"use strict";

(function () {
  const C = window.dyliveCharts;
  const $ = (id) => document.getElementById(id);
  let last = null;

  function fmt(n) {
    return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
  }

  function row(cells) {
    const tr = C.node("tr");
    for (const [text, cls] of cells) tr.append(C.node("td", cls || "", text));
    return tr;
  }

  function fill(tableId, rows) {
    $(tableId).querySelector("tbody").replaceChildren(...rows);
  }

  function show(r) {
    const s = r.session;
    $("anchor").textContent = s.anchor || s.web_rid || "—";
    $("title").textContent = s.title || "";
    $("ids").textContent = "session #" + s.id + " · web_rid " + s.web_rid + " · room_id " + s.room_id
      + " · " + (s.started_at ? C.dateTime(s.started_at) : "—")
      + " · " + (s.live ? "直播中 live" : "已结束 ended") + " · " + Math.round(s.duration_seconds / 60) + " min";
    const k = { diamonds: r.gift_diamonds, yuan: r.gift_yuan.toFixed(2), gifts: r.gifts, likes: r.likes,
      chatters: r.unique_chatters, peak: r.viewers.peak, messages: r.message_total };
    for (const [key, value] of Object.entries(k)) {
      const b = $("k-" + key);
      b.textContent = key === "yuan" ? value : fmt(value);
      b.dataset.value = String(value);
    }
    fill("gifters", r.top_gifters.map((g, i) => row([[i + 1], [g.nickname], [g.uid], [g.diamonds, "n"], [g.gifts, "n"], [g.pay_grade_level, "n"]])));
    fill("gift-table", r.gift_table.map((g) => row([[g.name], [g.id], [g.count, "n"], [g.diamonds, "n"]])));
    const rec = r.reconciliation;
    fill("reconciliation", rec.users.map((u) => row([[u.nickname], [u.uid], [u.douyin, "n"], [u.ours, "n"], [u.diff, u.diff < 0 ? "n diff-bad" : "n"]])));
    $("rec-note").textContent = "Douyin " + fmt(rec.douyin_total) + " · dylive " + fmt(rec.ours_total) + " · diff " + fmt(rec.diff_total);
    C.draw($("charts"), r.series, { live: !!s.live });
  }

  async function load(token, session) {
    if (!token || !session) return;
    localStorage.setItem("dylive.token", token);
    const q = new URLSearchParams({ token: token });
    let body;
    try {
      const resp = await fetch("/api/sessions/" + encodeURIComponent(session) + "/report?" + q.toString());
      body = C.parse(await resp.text());
    } catch (e) {
      $("status").textContent = "cannot reach the server";
      return;
    }
    if (body.code !== 200) {
      $("status").textContent = "error " + body.code + ": " + body.msg;
      return;
    }
    last = body.data;
    show(last);
    $("status").textContent = "loaded " + new Date().toTimeString().slice(0, 8);
  }

  $("open").addEventListener("submit", (ev) => {
    ev.preventDefault();
    load($("token").value.trim(), $("session").value.trim());
  });
  const params = new URLSearchParams(location.search);
  $("token").value = params.get("token") || localStorage.getItem("dylive.token") || "";
  $("session").value = params.get("session") || "";
  if (params.get("token")) {
    params.delete("token"); // the secret leaves the address bar
    history.replaceState(null, "", location.pathname + "?" + params.toString());
  }
  load($("token").value, $("session").value);

  window.dyliveReport = Object.freeze({ data: () => last });
})();
