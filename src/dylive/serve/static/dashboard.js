// dylive dashboard: plain JS, no dependencies. Reads the room's SSE stream
// (/api/rooms/{room}/stream) and the audience ranking (/douyin/liveroom/audience).
// Every server string goes into the DOM through textContent (never innerHTML).
"use strict";

(function () {
  const FEED_MAX = 400;        // chat lines kept in the DOM
  const GIFTS_MAX = 60;        // recent gift rows kept
  const RANK_EVERY_MS = 10000; // audience ranking refresh
  const $ = (id) => document.getElementById(id);

  const el = {
    form: $("connect"), token: $("token"), room: $("room"),
    anchor: $("anchor"), title: $("title"), ids: $("ids"),
    badge: $("live-badge"), transport: $("transport"), rate: $("rate"),
    viewers: $("viewers"), likes: $("likes"), diamonds: $("diamonds"),
    feed: $("feed"), resume: $("resume"), pending: $("pending"),
    gifts: $("gifts"), giftTotals: $("gift-totals"), giftSummary: $("gift-summary"),
    ranking: $("ranking"), rankSource: $("rank-source"),
    conn: $("conn"), statusLine: $("status-line"),
  };

  let source = null;
  let rankTimer = null;
  let state = freshState();

  function freshState() {
    return {
      room: "", firstSeq: 0, lastSeq: 0, paused: false, pending: 0, status: null, connectedAt: 0,
      likes: 0, viewers: null, giftCount: 0, diamonds: 0,
      streaks: new Map(), byGift: new Map(), errorShown: false,
      // the broadcast's figures: the session report (folded up to base.lastSeq) plus the gifts
      // this page saw after that seq; without a report yet, what the page saw
      base: null, recent: [],
    };
  }

  // ---- parsing: large integers (msg_id, uid, group_id, ids) kept exact as strings ----------
  const BIG_KEYS = /"(msg_id|uid|group_id|room_id|id|short_id)":(-?\d{16,})/g;
  function parseMessage(text) {
    return JSON.parse(text.replace(BIG_KEYS, '"$1":"$2"'));
  }

  function fmt(n) {
    if (n === null || n === undefined || n === "") return "—";
    const v = Number(n);
    if (!Number.isFinite(v)) return String(n);
    if (v >= 100000000) return (v / 100000000).toFixed(2) + "亿";
    if (v >= 10000) return (v / 10000).toFixed(1) + "万";
    return v.toLocaleString("en-US");
  }

  function clock(ms) {
    const d = ms ? new Date(Number(ms)) : new Date();
    return d.toTimeString().slice(0, 8);
  }

  function node(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  // ---- room identifier: a live.douyin.com URL becomes its web_rid ---------------------------
  function normalizeRoom(text) {
    const t = (text || "").trim();
    const m = t.match(/live\.douyin\.com\/(\d+)/);
    return m ? m[1] : t;
  }

  // ---- chat feed -------------------------------------------------------------------------
  const KINDS = {
    WebcastChatMessage: ["chat", "弹幕"],
    WebcastEmojiChatMessage: ["chat", "表情"],
    WebcastMemberMessage: ["member", "来了"],
    WebcastSocialMessage: ["social", "关注"],
    WebcastFansclubMessage: ["social", "粉丝团"],
    WebcastGiftMessage: ["gift", "礼物"],
    WebcastControlMessage: ["system", "系统"],
    WebcastRoomMessage: ["system", "系统"],
  };

  function isNearBottom() {
    const f = el.feed;
    return f.scrollHeight - f.scrollTop - f.clientHeight < 40;
  }

  function addLine(msg, kind, tag, text) {
    const p = msg.payload || {};
    const line = node("div", "line " + kind);
    line.dataset.method = msg.method;
    line.append(node("time", "", clock(p.created_at || msg.created_at)));
    line.append(node("span", "tag", tag));
    if (p.user && p.user.nickname) line.append(node("span", "who", p.user.nickname));
    line.append(node("span", "what", text));
    el.feed.append(line);
    while (el.feed.childElementCount > FEED_MAX) el.feed.firstElementChild.remove();
    if (state.paused) {
      state.pending += 1;
      el.pending.textContent = String(state.pending);
    } else {
      el.feed.scrollTop = el.feed.scrollHeight;
    }
  }

  function feedText(msg, kind) {
    const p = msg.payload || {};
    if (msg.method === "WebcastSocialMessage") return p.content || "关注了主播";
    if (kind === "member") return "来了";
    if (msg.method === "WebcastGiftMessage") {
      const nick = p.user && p.user.nickname ? p.user.nickname + ":" : "";
      const c = p.content || "";
      return c.startsWith(nick) ? c.slice(nick.length) : c;
    }
    return p.content || "";
  }

  el.feed.addEventListener("scroll", () => {
    const paused = !isNearBottom();
    if (paused === state.paused) return;
    state.paused = paused;
    if (!paused) state.pending = 0;
    el.resume.hidden = !paused;
    el.pending.textContent = String(state.pending);
  });
  el.resume.addEventListener("click", () => {
    el.feed.scrollTop = el.feed.scrollHeight;
  });

  // ---- gifts: combo deltas (never double count a streak) -------------------------------------
  // A streak is several messages with the same (uid, gift id, group_id) and a cumulative
  // repeat_count; only the increase over the highest count seen so far is new. Duplicates are
  // impossible here (each stored message arrives once, by seq), but a stale message adds 0.
  function giftDelta(p) {
    const g = p.gift || {};
    if (typeof g.delta === "number") return g.delta;
    const perClick = Math.max(Number(g.group_count) || 0, 1);
    const clicks = Math.max(Number(g.repeat_count) || 0, 1);
    if (!g.group_id || g.group_id === "0") return clicks * perClick;
    const key = [(p.user && p.user.uid) || 0, g.id, g.group_id].join(":");
    const before = state.streaks.get(key) || 0;
    if (clicks > before) state.streaks.set(key, clicks);
    if (state.streaks.size > 20000) state.streaks.delete(state.streaks.keys().next().value);
    return Math.max(clicks - before, 0) * perClick;
  }

  function onGift(msg) {
    const p = msg.payload || {};
    const g = p.gift || {};
    const delta = giftDelta(p);
    const diamonds = delta * (Number(g.diamond_count) || 0);
    state.giftCount += delta;
    state.diamonds += diamonds;
    const name = g.name || "gift " + g.id;
    const agg = state.byGift.get(name) || { count: 0, diamonds: 0 };
    agg.count += delta;
    agg.diamonds += diamonds;
    state.byGift.set(name, agg);
    if (delta) {
      state.recent.push({ seq: state.lastSeq, name: name, count: delta, diamonds: diamonds });
      if (state.recent.length > 20000) state.recent.shift();
    }

    const li = node("li", delta ? "" : "repeat");
    li.dataset.delta = String(delta);
    li.append(node("span", "who", (p.user && p.user.nickname) || "?"));
    li.append(node("span", "", name));
    const total = Math.max(Number(g.repeat_count) || 1, 1) * Math.max(Number(g.group_count) || 1, 1);
    if (g.group_id && g.group_id !== "0") li.append(node("span", "combo", "x" + total + (g.repeat_end ? " end" : "")));
    li.append(node("span", "delta", "+" + delta));
    el.gifts.prepend(li);
    while (el.gifts.childElementCount > GIFTS_MAX) el.gifts.lastElementChild.remove();
    renderGiftTotals();
    return delta;
  }

  // The broadcast's gift figures: the report's, plus what arrived after the seq it covers.
  function broadcastTotals() {
    const b = state.base;
    if (!b) return { gifts: state.giftCount, diamonds: state.diamonds, byGift: state.byGift, whole: false };
    const byGift = new Map([...b.byGift].map(([k, v]) => [k, { count: v.count, diamonds: v.diamonds }]));
    let gifts = b.gifts;
    let diamonds = b.diamonds;
    for (const r of state.recent) {
      if (r.seq <= b.lastSeq) continue;
      gifts += r.count;
      diamonds += r.diamonds;
      const agg = byGift.get(r.name) || { count: 0, diamonds: 0 };
      agg.count += r.count;
      agg.diamonds += r.diamonds;
      byGift.set(r.name, agg);
    }
    return { gifts: gifts, diamonds: diamonds, byGift: byGift, whole: true };
  }

  function renderGiftTotals() {
    const t = broadcastTotals();
    const rows = [...t.byGift.entries()].sort((a, b) => b[1].diamonds - a[1].diamonds || b[1].count - a[1].count).slice(0, 6);
    el.giftTotals.replaceChildren(...rows.map(([name, agg]) => {
      const tr = node("tr");
      tr.append(node("td", "", name), node("td", "n", "x" + fmt(agg.count)), node("td", "n", fmt(agg.diamonds) + " 钻"));
      return tr;
    }));
    const scope = t.whole ? "本场 this broadcast: " : "since opened · 本页: ";
    el.giftSummary.textContent = scope + fmt(t.gifts) + " gifts · " + fmt(t.diamonds) + " 钻";
    el.diamonds.textContent = fmt(t.diamonds);
    el.diamonds.dataset.value = String(t.diamonds);
    el.diamonds.title = t.whole ? "this broadcast (session report + live)" : "since this page was opened";
  }

  // The session report of the room's latest broadcast: the base of the broadcast's figures.
  async function refreshBroadcast(token, room) {
    let body;
    try {
      const r = await fetch(apiUrl("/api/rooms/" + encodeURIComponent(room) + "/sessions", { token: token }));
      body = JSON.parse((await r.text()).replace(BIG_KEYS, '"$1":"$2"'));
      const session = body.code === 200 && (body.data.sessions || [])[0];
      if (!session) return;
      const rr = await fetch(apiUrl("/api/sessions/" + encodeURIComponent(session.id) + "/report", { token: token, top: 0 }));
      body = JSON.parse((await rr.text()).replace(BIG_KEYS, '"$1":"$2"'));
    } catch (e) {
      return;
    }
    if (body.code !== 200 || state.room !== room) return;
    const rep = body.data;
    const byGift = new Map();
    for (const g of rep.gift_table || []) {
      const name = g.name || "gift " + g.id;
      const agg = byGift.get(name) || { count: 0, diamonds: 0 };
      agg.count += Number(g.count) || 0;
      agg.diamonds += Number(g.diamonds) || 0;
      byGift.set(name, agg);
    }
    const lastSeq = Number(rep.collection && rep.collection.last_seq) || 0;
    state.base = { lastSeq: lastSeq, gifts: Number(rep.gifts) || 0, diamonds: Number(rep.gift_diamonds) || 0, byGift: byGift, session: rep.session.id };
    state.recent = state.recent.filter((r) => r.seq > lastSeq);
    renderGiftTotals();
  }

  // ---- messages ------------------------------------------------------------------------------
  function setViewers(n) {
    if (n === null || n === undefined) return;
    state.viewers = Number(n);
    el.viewers.textContent = fmt(n);
    el.viewers.dataset.value = String(n);
  }

  function setLikes(n) {
    if (!(Number(n) > state.likes)) return;
    state.likes = Number(n);
    el.likes.textContent = fmt(state.likes);
  }

  function onMessage(ev) {
    state.lastSeq = Number(ev.lastEventId) || state.lastSeq;
    if (!state.firstSeq) state.firstSeq = state.lastSeq;
    let msg;
    try { msg = parseMessage(ev.data); } catch (e) { return; }
    const p = msg.payload || {};
    switch (msg.method) {
      case "WebcastRoomUserSeqMessage": setViewers(p.viewers && p.viewers.total); return;
      case "WebcastLikeMessage": setLikes(p.like && p.like.total); return;
      case "WebcastGiftMessage": if (onGift(msg) === 0) return; break;
      default: break;
    }
    const kind = KINDS[msg.method];
    if (!kind) return;
    let tag = kind[1];
    if (msg.method === "WebcastSocialMessage" && p.content === "分享了直播间") tag = "分享";
    addLine(msg, kind[0], tag, feedText(msg, kind[0]));
  }

  function onStatus(ev) {
    const s = JSON.parse(ev.data.replace(BIG_KEYS, '"$1":"$2"'));
    state.status = s;
    el.title.classList.remove("error");
    el.anchor.textContent = s.anchor || "—";
    el.title.textContent = s.title || "";
    el.ids.textContent = "web_rid " + (s.web_rid || "—") + " · room_id " + s.room_id;
    el.badge.textContent = s.ended ? "已结束 ended" : s.live ? "直播中 LIVE" : "未开播 offline";
    el.badge.className = "badge " + (s.ended ? "ended" : s.live ? "live" : "");
    el.transport.textContent = s.transport || (s.collecting ? s.state || "…" : "—");
    el.rate.textContent = Number(s.messages_per_second || 0).toFixed(1);
    setViewers(s.viewers);
    setLikes(s.likes_total);
    statusLine();
  }

  function statusLine() {
    const s = state.status || {};
    const parts = [
      "room " + state.room,
      "seq " + state.lastSeq,
      "gaps " + (s.gaps || 0),
      "lagged " + (s.lagged || 0),
    ];
    if (s.lag_seconds !== null && s.lag_seconds !== undefined) parts.push("lag " + Number(s.lag_seconds).toFixed(1) + "s");
    if (s.error) parts.push("upstream: " + s.error);
    parts.push("updated " + clock());
    el.statusLine.textContent = parts.join(" · ");
  }

  function setConn(cls, text) {
    el.conn.className = "conn " + cls;
    el.conn.textContent = text;
  }

  // ---- connection ----------------------------------------------------------------------------
  function apiUrl(path, params) {
    const q = new URLSearchParams(params);
    return path + "?" + q.toString();
  }

  // Errors are shown where the user looks (the room header) and end the session: a bad token
  // or room is never retried; the user fixes the form and connects again.
  function fail(text) {
    disconnect();
    el.anchor.textContent = "—";
    el.title.textContent = text;
    el.title.classList.add("error");
    el.badge.textContent = "error";
    el.badge.className = "badge error";
    setConn("err", text);
  }

  function envelopeText(body) {
    const detail = body.data && body.data.detail ? " — " + body.data.detail : "";
    return "error " + body.code + ": " + body.msg + detail;
  }

  async function check(url) {
    // One plain request first: EventSource hides the HTTP status and retries on its own.
    try {
      const r = await fetch(url, { headers: { Accept: "application/json" } });
      const body = await r.json();
      return body.code === 200 ? null : envelopeText(body);
    } catch (e) {
      return "cannot reach the server · 无法连接服务器";
    }
  }

  let attempt = 0; // the latest connect() wins when the user clicks again meanwhile

  async function connect(token, roomText) {
    const mine = ++attempt;
    disconnect();
    const room = normalizeRoom(roomText);
    if (!token || !room) {
      fail("token and room are required · 请输入授权码和直播间");
      return;
    }
    el.title.classList.remove("error");
    el.title.textContent = "connecting… · 连接中";
    setConn("wait", "connecting…");
    const problem = await check(apiUrl("/api/rooms/" + encodeURIComponent(room), { token: token }));
    if (mine !== attempt) return;
    if (problem) {
      fail(problem);
      return;
    }
    localStorage.setItem("dylive.token", token);
    localStorage.setItem("dylive.room", roomText.trim());
    state = freshState();
    state.room = room;
    el.feed.replaceChildren();
    el.gifts.replaceChildren();
    el.giftTotals.replaceChildren();
    el.resume.hidden = true;
    ["viewers", "likes", "diamonds", "rate", "transport"].forEach((k) => { el[k].textContent = k === "viewers" || k === "transport" ? "—" : "0"; });
    const url = apiUrl("/api/rooms/" + encodeURIComponent(room) + "/stream", { token: token });
    const es = new EventSource(url);
    source = es;
    es.onopen = () => { if (source === es) setConn("on", "live · 已连接"); };
    es.onmessage = (ev) => { if (source === es) onMessage(ev); };
    es.addEventListener("status", (ev) => { if (source === es) onStatus(ev); });
    es.onerror = () => {
      if (source !== es) return;
      if (es.readyState === EventSource.CLOSED) {
        check(url).then((problem) => { if (source === es) fail(problem || "the stream closed"); });
      } else {
        setConn("wait", "reconnecting… (resumes after seq " + state.lastSeq + ")");
      }
    };
    refreshRanking(token, room);
    refreshBroadcast(token, room);
    rankTimer = setInterval(() => { refreshRanking(token, room); refreshBroadcast(token, room); }, RANK_EVERY_MS);
  }

  function disconnect() {
    if (source) source.close();
    source = null;
    if (rankTimer) clearInterval(rankTimer);
    rankTimer = null;
  }

  async function refreshRanking(token, room) {
    let body;
    try {
      const r = await fetch(apiUrl("/douyin/liveroom/audience", { token: token, room_id: room }));
      body = JSON.parse((await r.text()).replace(BIG_KEYS, '"$1":"$2"'));
    } catch (e) {
      return;
    }
    if (body.code === 40001 || body.code === 40002) {
      fail(envelopeText(body)); // the token was revoked meanwhile
      return;
    }
    if (body.code !== 200) {
      el.rankSource.textContent = "error " + body.code + ": " + body.msg;
      return;
    }
    const data = (body.data && body.data.data) || {};
    const ranks = (data.ranks || []).slice(0, 10);
    el.rankSource.textContent = (body.data.source || "") + " · " + clock();
    if (!ranks.length) {
      el.ranking.replaceChildren(node("li", "muted empty", "no gifts yet · 暂无"));
      return;
    }
    el.ranking.replaceChildren(...ranks.map((r, i) => {
      const li = node("li");
      li.append(node("span", "pos", String(r.rank || i + 1)));
      li.append(node("span", "name", (r.user && r.user.nickname) || "?"));
      li.append(node("span", "score", fmt(r.score)));
      return li;
    }));
  }

  // ---- start: query string (token, room) → connect at once; else localStorage ------------------
  el.form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    connect(el.token.value.trim(), el.room.value);
  });

  const params = new URLSearchParams(location.search);
  const qToken = params.get("token");
  const qRoom = params.get("room") || params.get("room_id");
  el.token.value = qToken || localStorage.getItem("dylive.token") || "";
  el.room.value = qRoom || localStorage.getItem("dylive.room") || "";
  if (qToken) {
    params.delete("token"); // do not leave the secret in the address bar / history
    history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : ""));
  }
  if (el.token.value && el.room.value && (qToken || qRoom)) connect(el.token.value, el.room.value);
  setInterval(() => { if (source) statusLine(); }, 5000);

  // Read-only snapshot for tests and the browser console.
  window.dylive = Object.freeze({
    summary: () => ({
      room: state.room, firstSeq: state.firstSeq, lastSeq: state.lastSeq,
      gifts: state.giftCount, diamonds: state.diamonds, likes: state.likes, viewers: state.viewers,
      streaming: source !== null, polling: rankTimer !== null,
      broadcast: (() => { const t = broadcastTotals(); return { gifts: t.gifts, diamonds: t.diamonds, whole: t.whole, baseSeq: state.base ? state.base.lastSeq : 0 }; })(),
    }),
    refreshBroadcast: () => refreshBroadcast(el.token.value.trim(), state.room),
  });
})();
