// Floor-plan tab: camera states arrive over the page's WebSocket (seatmap.js); kiosk states and
// reconciliation marks are refreshed here from /api/v1/stores/{id}/kiosk every 15 s. The page is
// complete without this script.
(function () {
  "use strict";
  var script = document.currentScript;
  var storeId = script.getAttribute("data-store-id");
  var STATES = ["free", "sold", "in_use", "unknown", "none"];
  var ICONS = { free: "\u25a1", sold: "\u25c7", in_use: "\u25a0", unknown: "?" };
  function refresh() {
    fetch("/api/v1/stores/" + encodeURIComponent(storeId) + "/kiosk", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        var badge = document.getElementById("kiosk-badge");
        (data.seats || []).forEach(function (s) {
          var cell = document.querySelector('[data-kiosk-seat-id="' + CSS.escape(s.kiosk_seat_id) + '"]');
          if (!cell) return;
          var k = s.state === null ? "none" : (data.known ? s.state : "unknown");
          STATES.forEach(function (x) { cell.classList.remove("kiosk-" + x); });
          cell.classList.add("kiosk-" + k);
          cell.setAttribute("data-kiosk-state", k);
          var icon = cell.querySelector(".kiosk-icon");
          if (icon) icon.textContent = ICONS[k] || "";
          cell.classList.toggle("has-alert", (s.alerts || []).length > 0);
          cell.setAttribute("data-alerts", (s.alerts || []).join(" "));
        });
        if (badge && data.adapter) {
          var st = data.known ? "ok" : "unknown";
          if (badge.getAttribute("data-kiosk") !== st) location.reload();  // the badge's text is the server's
        }
      })
      .catch(function () {});
  }
  setInterval(refresh, 15000);
})();
