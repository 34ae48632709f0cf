// Live seat states for one store page. The page is complete without this script; it applies the
// WebSocket updates in place (seatmap.js re-labels seats and ticks the timers) and reconnects by
// itself with a growing delay. After a drop it reloads the page once connected again, because the
// updates sent meanwhile are lost.
(function () {
  "use strict";
  var script = document.currentScript;
  var storeId = script.getAttribute("data-store-id");
  var t = JSON.parse(document.getElementById("live-i18n").textContent);
  var statusEl = document.getElementById("live-status");

  function setStatus(state) {
    statusEl.setAttribute("data-state", state);
    statusEl.textContent = t["live." + state];
  }
  // One counter per seat state, rendered by the server from protocol.SEAT_STATES: no list here.
  function recount() {
    var counts = window.SeatMap.counts();
    document.querySelectorAll("[data-count]").forEach(function (el) {
      el.textContent = counts[el.getAttribute("data-count")] || 0;
    });
  }
  function applyEdge(edge) {
    var li = document.querySelector('li[data-edge-id="' + CSS.escape(edge.edge_id) + '"]');
    if (!li) return;
    li.className = edge.online ? "online" : "offline";
    li.querySelector(".edge-status").textContent = t[edge.online ? "edge.online" : "edge.offline"];
    var icon = li.querySelector(".icon");
    if (icon) icon.textContent = edge.online ? "\u2713" : "\u2715";
  }
  function alertsChanged() {
    var list = document.getElementById("alerts");
    document.getElementById("alerts-none").hidden = list.children.length > 0;
    document.getElementById("alerts-count").textContent = list.children.length;
  }
  // Same wording as the server-rendered list (hub.pages.alert_text), in the page's language.
  function alertText(a) {
    var tpl = t["alert." + a.kind];
    if (!tpl) return a.message;
    var g = a.seat_id ? document.querySelector('g[data-seat-id="' + CSS.escape(a.seat_id) + '"]') : null;
    var seat = g ? g.getAttribute("data-label") : (a.seat_id || "");
    return tpl.replace("{seat}", seat).replace("{edge}", a.edge_id || "");
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
      li.setAttribute("data-kind", a.kind || "");
      var b = document.createElement("b");
      b.textContent = t["priority." + a.priority] || a.priority;
      li.appendChild(b);
      li.appendChild(document.createTextNode(" " + alertText(a) + " "));
      var tm = document.createElement("time");
      // Same clock and format as the server-rendered list: store time (the page's zone, body[data-zone]), "2026-12-04 22:33"
      // (the sv-SE locale writes ISO dates; en-GB wrote 04-12, day first, next to the server's 12-04).
      tm.textContent = new Date(a.opened_at * 1000).toLocaleString("sv-SE", {
        timeZone: document.body.dataset.zone || "Asia/Seoul", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
        minute: "2-digit", hour12: false });
      li.appendChild(tm);
      list.insertBefore(li, list.firstChild);
    }
    alertsChanged();
  }
  var delay = 1000;
  var dropped = false;
  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + "/ws/stores/" + encodeURIComponent(storeId));
    ws.onopen = function () {
      if (dropped) { location.reload(); return; }
      delay = 1000;
      setStatus("connected");
    };
    // protocol/live.py: {type: "hello" | "update" | "alert", ...}; any other type is ignored.
    ws.onmessage = function (ev) {
      var msg = JSON.parse(ev.data);
      // Other parts of the page (the floor plan's kiosk marks) take what they need from here too.
      document.dispatchEvent(new CustomEvent("seat-live", { detail: msg }));
      if (msg.type === "alert") { applyAlert(msg); return; }
      if (msg.type !== "update") return;
      msg.seats.forEach(window.SeatMap.applySeat);
      msg.edges.forEach(applyEdge);
      recount();
    };
    ws.onclose = function () {
      dropped = true;
      setStatus("disconnected");
      // jitter, so that a hub restart is not met by every tablet at the same instant
      setTimeout(connect, delay * (0.8 + Math.random() * 0.4));
      delay = Math.min(delay * 2, 30000);
    };
  }
  setStatus("connecting");
  connect();
})();
