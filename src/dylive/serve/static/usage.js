// dylive usage page: /usage (token from ?token= or the dashboard's localStorage). Reads
// /api/usage?granularity=day and draws the billable and other requests per day (uPlot, vendored)
// and one bar per quota (used / limit). Server strings go into the DOM through textContent only.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const DAY = 86400;
  let last = null;

  function node(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  function fmt(n) {
    return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
  }

  // Every day of the range (days without usage are zeros), oldest first.
  function series(data) {
    const from = Date.parse(data.from) / 1000;
    const to = Date.parse(data.to) / 1000;
    const byDay = new Map(data.periods.map((p) => [Date.parse(p.period + "T00:00:00Z") / 1000, p]));
    const days = [], billable = [], other = [];
    for (let t = from; t < to; t += DAY) {
      const p = byDay.get(t);
      days.push(t);
      billable.push(p ? p.billable : 0);
      other.push(p ? p.requests - p.billable : 0);
    }
    return [days, billable, other];
  }

  function chart(data) {
    const box = $("chart");
    box.replaceChildren();
    const width = Math.max(320, box.clientWidth - 12);
    const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.6, 40] }) : undefined;
    const opts = {
      width: width,
      height: 220,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      series: [
        {},
        { label: "计费 billable (200)", stroke: "#3b82f6", fill: "#3b82f655", width: 1, paths: bars },
        { label: "其他 other codes", stroke: "#f59e0b", fill: "#f59e0b55", width: 1, paths: bars },
      ],
      axes: [{}, { size: 56 }],
    };
    return new uPlot(opts, series(data), box);
  }

  function quotas(q) {
    const names = ["requests_per_day", "requests_per_month", "messages_per_day", "messages_per_month"];
    const rows = [];
    for (const name of names) {
      const item = q[name];
      if (!item) continue;
      const share = item.limit ? Math.min(1, item.used / item.limit) : 0;
      const row = node("div", "quota");
      row.dataset.quota = name;
      row.dataset.used = String(item.used);
      row.dataset.limit = String(item.limit);
      row.append(node("div", "quota-name", name));
      const bar = node("div", "quota-bar");
      const fill = node("i", share >= 1 ? "full" : share >= 0.8 ? "high" : "");
      fill.style.width = (share * 100).toFixed(1) + "%";
      bar.append(fill);
      row.append(bar);
      const reset = new Date(item.reset * 1000).toISOString().replace(".000", "");
      row.append(node("div", "quota-text muted",
        fmt(item.used) + " / " + fmt(item.limit) + " · " + fmt(item.remaining) + " left · resets " + reset));
      rows.push(row);
    }
    if (!rows.length) rows.push(node("p", "muted", "no quota · 无配额"));
    $("quotas").replaceChildren(...rows);
    $("rate").textContent = q.requests_per_second ? q.requests_per_second + " req/s" : "no rate limit";
  }

  function show(data) {
    $("name").textContent = data.token;
    $("range").textContent = data.from.slice(0, 10) + " … " + data.to.slice(0, 10) + " (UTC, " + data.granularity + ")";
    const t = data.total;
    for (const key of ["requests", "billable", "messages", "rooms", "bytes"]) {
      const b = $("k-" + key);
      b.textContent = fmt(t[key]);
      b.dataset.value = String(t[key]);
    }
    chart(data);
    quotas(data.quota);
  }

  async function load(token, days) {
    if (!token) return;
    localStorage.setItem("dylive.token", token);
    const n = Math.max(1, Math.min(400, parseInt(days, 10) || 30));
    const from = new Date(Date.now() - (n - 1) * DAY * 1000).toISOString().slice(0, 10);
    const q = new URLSearchParams({ token: token, granularity: "day", from: from });
    let body;
    try {
      const resp = await fetch("/api/usage?" + q.toString());
      body = await resp.json();
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
    load($("token").value.trim(), $("days").value.trim());
  });
  const params = new URLSearchParams(location.search);
  $("token").value = params.get("token") || localStorage.getItem("dylive.token") || "";
  if (params.get("days")) $("days").value = params.get("days");
  if (params.get("token")) {
    params.delete("token"); // the secret leaves the address bar
    history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params.toString() : ""));
  }
  load($("token").value, $("days").value);

  window.dyliveUsage = Object.freeze({ data: () => last });
})();
