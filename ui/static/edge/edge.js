// Keeps the server-rendered seat page fresh by polling /api/seats (the page works without this);
// the shared seatmap.js re-labels seats and keeps their timers ticking.
(function () {
  "use strict";
  var body = document.body;
  var every = parseFloat(body.dataset.refreshS || "5") * 1000;
  // The state counters the page was rendered with (the server's state list, not a copy here).
  var counters = document.querySelectorAll("[data-count]");

  function apply(data) {
    data.seats.forEach(function (s) { window.SeatMap.applySeat(s); });
    Array.prototype.forEach.call(counters, function (c) {
      c.textContent = data.counts[c.dataset.count] || 0;
    });
    var up = document.getElementById("updated");
    // The store's clock as the server writes it ("22:33:05 KST"), not the tablet's zone and locale.
    if (up) up.textContent = new Date(data.generated_at * 1000).toLocaleTimeString("sv-SE", {
      timeZone: body.dataset.zone || "Asia/Seoul", hour12: false }) + " " + (body.dataset.zoneAbbr || "");
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
