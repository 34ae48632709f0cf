// Seat map helpers shared by the hub store page and the edge fallback page. The pages are
// complete without this; it re-labels a seat when its state changes and keeps the timers ticking.
(function () {
  "use strict";
  var el = document.getElementById("seatmap-i18n");
  var t = el ? JSON.parse(el.textContent) : {};
  // The seat states are the server's (protocol.SEAT_STATES, one "icon.<state>" each), not a copy.
  var STATES = Object.keys(t).filter(function (k) { return k.indexOf("icon.") === 0; })
    .map(function (k) { return k.slice(5); });
  // server clock minus ours (from the page's render time), so a wrong tablet clock does not skew the timers
  var me = document.currentScript;
  var serverNow = me && me.getAttribute("data-server-now");
  var clockSkew = serverNow ? Number(serverNow) - Date.now() / 1000 : 0;

  function fmt(key, vars) {
    return (t[key] || key).replace(/\{(\w+)\}/g, function (_, k) { return vars[k]; });
  }
  function duration(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    if (s < 60) return fmt("dur.sec", { s: s });
    if (s < 3600) return fmt("dur.min", { m: Math.floor(s / 60) });
    if (s < 86400) return fmt("dur.hour", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
    return fmt("dur.day", { d: Math.floor(s / 86400), h: Math.floor((s % 86400) / 3600) });
  }
  function now() { return Date.now() / 1000 + clockSkew; }
  function timer(state, since) {
    if (since === "" || since === null || since === undefined) return "";
    return fmt("timer." + state, { d: duration(now() - Number(since)) });
  }
  // Keep a text inside its seat box: squeeze it to the box's width when it is wider (a longer
  // duration, a long English word); the server's font size already fits the first text.
  function fit(el) {
    var w = Number(el.getAttribute("data-fit"));
    if (!w || !el.getComputedTextLength) return;
    el.removeAttribute("textLength");
    el.removeAttribute("lengthAdjust");
    if (el.getComputedTextLength() > w) {
      el.setAttribute("textLength", w);
      el.setAttribute("lengthAdjust", "spacingAndGlyphs");
    }
  }
  function stateOf(node) {
    for (var i = 0; i < STATES.length; i++) if (node.classList.contains("state-" + STATES[i])) return STATES[i];
    return "unknown";
  }
  function applySeat(seat) {
    var since = seat.since === null || seat.since === undefined ? "" : seat.since;
    document.querySelectorAll('[data-seat-id="' + CSS.escape(seat.seat_id) + '"]').forEach(function (node) {
      STATES.forEach(function (s) { node.classList.remove("state-" + s); });
      node.classList.add("state-" + seat.state);
      node.querySelectorAll(".icon").forEach(function (i) { i.textContent = t["icon." + seat.state] || "?"; });
      node.querySelectorAll(".state-name").forEach(function (n) {
        n.textContent = t["state." + seat.state] || seat.state;
        if (n.hasAttribute("data-state")) n.setAttribute("data-state", seat.state);
      });
      node.querySelectorAll("[data-since]").forEach(function (d) {
        d.setAttribute("data-since", since);
        d.textContent = timer(seat.state, since);
        fit(d);
      });
      // A timer that restarted with the store box says the time before is unknown (issue 19 point 8).
      var note = seat.resumed && since !== "" ? (t["timer.resumed"] || "") : "";
      node.querySelectorAll(".resumed-note").forEach(function (n) {
        n.textContent = note && n.hasAttribute("data-brackets") ? "(" + note + ")" : note;
        if (n.hasAttribute("data-fit")) fit(n);
      });
      node.querySelectorAll("text.label[data-fit]").forEach(fit);
      var title = node.querySelector("title");
      if (title) title.textContent = (node.getAttribute("data-label") || seat.seat_id) + ": " +
        (t["state." + seat.state] || seat.state) + " " + timer(seat.state, since) + (note ? " (" + note + ")" : "");
    });
  }
  function tick() {
    document.querySelectorAll("[data-seat-id] [data-since]").forEach(function (d) {
      var owner = d.closest("[data-seat-id]");
      var text = timer(stateOf(owner), d.getAttribute("data-since"));
      if (d.textContent !== text) { d.textContent = text; fit(d); }
    });
  }
  function counts() {
    var c = {};
    STATES.forEach(function (s) { c[s] = 0; });
    // One node per seat: the camera map's seats, else (the hub's floor-plan tab) the seat list's rows.
    var nodes = document.querySelectorAll("g[data-seat-id]");
    if (!nodes.length) nodes = document.querySelectorAll("tr[data-seat-id]");
    nodes.forEach(function (g) { c[stateOf(g)] += 1; });
    return c;
  }
  window.SeatMap = {
    applySeat: applySeat, tick: tick, counts: counts, duration: duration,
    setServerNow: function (serverNow) { clockSkew = Number(serverNow) - Date.now() / 1000; },
  };
  document.querySelectorAll("text[data-fit]").forEach(fit);
  setInterval(tick, 1000);
})();
