// Keeps the server-rendered seat page fresh by polling /api/seats (the page works without this).
(function () {
  "use strict";
  var body = document.body;
  var names = JSON.parse(body.dataset.stateNames || "{}");
  var dur = JSON.parse(body.dataset.dur || "{}");
  var every = parseFloat(body.dataset.refreshS || "5") * 1000;
  var STATES = ["empty", "occupied", "away", "abandoned", "unknown"];

  function fmt(tpl, vals) {
    return tpl.replace(/\{(\w+)\}/g, function (_, k) { return vals[k]; });
  }
  function duration(seconds) {
    if (seconds === null || isNaN(seconds)) return dur.none;
    var s = Math.max(0, Math.floor(seconds));
    if (s < 60) return fmt(dur.sec, { s: s });
    if (s < 3600) return fmt(dur.min, { m: Math.floor(s / 60) });
    if (s < 86400) return fmt(dur.hour, { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
    return fmt(dur.day, { d: Math.floor(s / 86400), h: Math.floor((s % 86400) / 3600) });
  }
  function setState(el, state) {
    STATES.forEach(function (st) { el.classList.remove("st-" + st); });
    el.classList.add("st-" + state);
  }
  function apply(data) {
    data.seats.forEach(function (s) {
      document.querySelectorAll('[data-seat="' + CSS.escape(s.seat_id) + '"]').forEach(function (el) {
        setState(el, s.state);
        var name = el.querySelector(".state-name");
        if (name) name.textContent = names[s.state] || s.state;
        var since = el.querySelector(".since");
        if (since) since.textContent = duration(s.since === null ? null : data.generated_at - s.since);
        var title = el.querySelector("title");
        if (title) title.textContent = s.label + ": " + (names[s.state] || s.state);
      });
    });
    STATES.forEach(function (st) {
      var c = document.getElementById("count-" + st);
      if (c) c.textContent = data.counts[st] || 0;
    });
    var up = document.getElementById("updated");
    if (up) up.textContent = new Date(data.generated_at * 1000).toLocaleTimeString();
    body.dataset.lastRefresh = String(data.generated_at);
  }
  function poll() {
    fetch("/api/seats", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) { window.location = "/login?next=/"; return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (data) { if (data) apply(data); })
      .catch(function () { /* box busy or restarting: try again next round */ })
      .then(function () { setTimeout(poll, every); });
  }
  setTimeout(poll, every);
})();
