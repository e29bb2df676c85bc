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

  // One chart per series in `container` (replaced on every call: cheap at one point a minute).
  function draw(container, series) {
    const minutes = (series.minute || []).map((ms) => ms / 1000);
    const width = Math.max(240, Math.floor(container.clientWidth / SERIES.length) - 12);
    const charts = SERIES.map(([key, label, color]) => {
      const box = node("div", "chart");
      box.dataset.series = key;
      container.append(box);
      const opts = {
        width: width,
        height: 160,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        series: [{}, { label: label, stroke: color, width: 2, fill: color + "22", points: { show: minutes.length < 3 } }],
        axes: [{}, { size: 56 }],
      };
      return new uPlot(opts, [minutes, (series[key] || []).map(Number)], box);
    });
    return charts;
  }

  function replace(container, series) {
    container.replaceChildren();
    return draw(container, series);
  }

  window.dyliveCharts = Object.freeze({ draw: replace, parse: parse, node: node });
})();
