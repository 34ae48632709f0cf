// Live seat states for one store page. The page is complete without this script; it only
// applies the WebSocket updates in place and keeps the "how long" durations ticking.
(function () {
  "use strict";
  var script = document.currentScript;
  var storeId = script.getAttribute("data-store-id");
  var t = JSON.parse(document.getElementById("i18n").textContent);
  var statusEl = document.getElementById("live-status");
  var STATES = ["empty", "occupied", "away", "abandoned", "unknown"];

  function fmt(key, vars) {
    return (t[key] || key).replace(/\{(\w+)\}/g, function (_, k) { return vars[k]; });
  }
  function duration(since) {
    if (since === "" || since === null || since === undefined) return "";
    var s = Math.max(0, Math.floor(Date.now() / 1000 - Number(since)));
    if (s < 60) return fmt("dur.sec", { s: s });
    if (s < 3600) return fmt("dur.min", { m: Math.floor(s / 60) });
    if (s < 86400) return fmt("dur.hour", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
    return fmt("dur.day", { d: Math.floor(s / 86400), h: Math.floor((s % 86400) / 3600) });
  }
  function setStateClass(el, state) {
    STATES.forEach(function (s) { el.classList.remove("state-" + s); });
    el.classList.add("state-" + state);
  }
  function recount() {
    var counts = {};
    STATES.forEach(function (s) { counts[s] = 0; });
    document.querySelectorAll("tr[data-seat-id] td.state").forEach(function (td) {
      counts[td.getAttribute("data-state")] += 1;
    });
    STATES.forEach(function (s) {
      var el = document.querySelector('[data-count="' + s + '"]');
      if (el) el.textContent = counts[s];
    });
  }
  function applySeat(seat) {
    document.querySelectorAll('[data-seat-id="' + CSS.escape(seat.seat_id) + '"]').forEach(function (el) {
      setStateClass(el, seat.state);
      el.querySelectorAll("[data-since]").forEach(function (d) {
        d.setAttribute("data-since", seat.since);
        d.textContent = duration(seat.since);
      });
      var st = el.querySelector("td.state");
      if (st) { st.setAttribute("data-state", seat.state); st.textContent = t["state." + seat.state]; }
    });
  }
  function applyEdge(edge) {
    var li = document.querySelector('li[data-edge-id="' + CSS.escape(edge.edge_id) + '"]');
    if (!li) return;
    li.className = edge.online ? "online" : "offline";
    li.querySelector(".edge-status").textContent = t[edge.online ? "edge.online" : "edge.offline"];
  }
  function applyAlert(a) {
    var list = document.getElementById("alerts");
    if (!list) return;
    var li = list.querySelector('li[data-alert-id="' + a.id + '"]');
    if (a.event === "closed") {
      if (li) li.remove();
    } else if (!li) {
      li = document.createElement("li");
      li.setAttribute("data-alert-id", a.id);
      li.className = "alert priority-" + a.priority;
      var b = document.createElement("b");
      b.textContent = t["priority." + a.priority] || a.priority;
      li.appendChild(b);
      li.appendChild(document.createTextNode(" " + a.message + " "));
      var tm = document.createElement("time");
      // Same clock as the server-rendered list: the store's (KST), month-day hour:minute.
      tm.textContent = new Date(a.opened_at * 1000).toLocaleString("en-GB", {
        timeZone: "Asia/Seoul", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
        hour12: false }).replace("/", "-").replace(",", "");
      li.appendChild(tm);
      list.insertBefore(li, list.firstChild);
    }
    document.getElementById("alerts-none").hidden = list.children.length > 0;
  }
  var delay = 1000;
  var dropped = false;
  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + "/ws/stores/" + encodeURIComponent(storeId));
    ws.onopen = function () {
      // Updates sent while we were away are lost: take a fresh server-rendered page.
      if (dropped) { location.reload(); return; }
      delay = 1000; statusEl.hidden = true;
    };
    ws.onmessage = function (ev) {
      var msg = JSON.parse(ev.data);
      if (msg.type === "alert") { applyAlert(msg); return; }
      if (msg.type !== "update") return;
      (msg.seats || []).forEach(applySeat);
      (msg.edges || []).forEach(applyEdge);
      recount();
    };
    ws.onclose = function () {
      dropped = true;
      statusEl.textContent = t["live.disconnected"];
      statusEl.hidden = false;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  setInterval(function () {
    document.querySelectorAll("[data-since]").forEach(function (d) {
      d.textContent = duration(d.getAttribute("data-since"));
    });
  }, 1000);
  connect();
})();
