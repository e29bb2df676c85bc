// dylive charts: per-minute series of a session report drawn with uPlot (vendored, MIT,
// /static/vendor/uPlot.iife.min.js). Shared by the dashboard and the report page.
// Every server string goes into the DOM through textContent (never innerHTML).
"use strict";

(function () {
  const SERIES = [
    ["viewers", "在线 viewers", "#3b82f6"],
    ["chat", "弹幕/min chat", "#10b981"],
    ["diamonds", "抖币/min diamonds", "#f59e0b"],
  ];

  // JSON with 64-bit ids kept exact as strings (uid, room_id, msg_id …).
  const BIG_KEYS = /"(msg_id|uid|group_id|room_id|id|short_id)":(-?\d{16,})/g;
  function parse(text) {
    return JSON.parse(text.replace(BIG_KEYS, '"$1":"$2"'));
  }

  function node(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  // Times in the browser's own locale, 24-hour (a Chinese page in a Chinese browser reads
  // 20:30, not 8:30 PM).
  function timeLabel(ms) {
    return new Date(Number(ms)).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hour12: false });
  }
  function dateTime(ms) {
    return new Date(Number(ms)).toLocaleString(undefined, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
  }

  // A live broadcast's current minute is still filling: drawn as is it would look like a steep
  // drop, so it is drawn apart (dashed, no fill) from the complete minutes. `unfinished(series,
  // live, now)` is true when the last minute is such a minute.
  function unfinished(series, live, nowMs) {
    const minute = series.minute || [];
    const n = minute.length;
    return !!(live && n && Number(minute[n - 1]) + 60000 > (nowMs || Date.now()));
  }

  // One chart per series in `container` (replaced on every call: cheap at one point a minute).
  function draw(container, series, options) {
    const minutes = (series.minute || []).map((ms) => ms / 1000);
    const n = minutes.length;
    const open = unfinished(series, !!(options && options.live));
    const width = Math.max(240, Math.floor(container.clientWidth / SERIES.length) - 12);
    const charts = SERIES.map(([key, label, color]) => {
      const box = node("div", "chart");
      box.dataset.series = key;
      container.append(box);
      const values = (series[key] || []).map(Number);
      const done = open ? values.map((v, i) => (i < n - 1 ? v : null)) : values;
      const now = values.map((v, i) => (open && i >= n - 2 ? v : null));
      const opts = {
        width: width,
        height: 160,
        // the legend names the series (no "--" values waiting for a hover)
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false } },
        series: [
          { value: (u, v) => (v === null || v === undefined ? "" : timeLabel(v * 1000)) },
          { label: label, stroke: color, width: 2, fill: color + "22", points: { show: n < 3 } },
          { label: "this minute so far · 本分钟", stroke: color, width: 1, dash: [4, 4], points: { show: true, size: 4 }, show: open },
        ],
        axes: [{ values: (u, splits) => splits.map((v) => timeLabel(v * 1000)) }, { size: 56 }],
      };
      return new uPlot(opts, [minutes, done, now], box);
    });
    return { charts: charts, points: n, open: open };
  }

  function replace(container, series, options) {
    container.replaceChildren();
    return draw(container, series, options);
  }

  window.dyliveCharts = Object.freeze({
    draw: replace, parse: parse, node: node, timeLabel: timeLabel, dateTime: dateTime, unfinished: unfinished,
  });
})();
