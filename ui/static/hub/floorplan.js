// Floor-plan tab: camera states arrive over the page's WebSocket (seatmap.js recolours the cells);
// kiosk states and reconciliation alerts too (live.js re-dispatches each message as a "seat-live"
// event). A re-read of /api/v1/stores/{id}/kiosk every minute is the fallback for a dropped
// socket. The page is complete without this script.
(function () {
  "use strict";
  var script = document.currentScript;
  var storeId = script.getAttribute("data-store-id");
  var el = document.getElementById("kiosk-i18n");
  var t = el ? JSON.parse(el.textContent) : {};
  var STATES = ["free", "sold", "in_use", "unknown", "none"];
  var ICONS = { free: "\u25a1", sold: "\u25c7", in_use: "\u25a0", unknown: "?" };
  var KINDS = ["kiosk_hogging", "kiosk_unpaid", "kiosk_checkout_items"];

  function badgeKnown(known) {
    var badge = document.getElementById("kiosk-badge");
    if (!badge || badge.getAttribute("data-kiosk") === "none") return;
    // The badge's words (since when, the error) are the server's: fetch the page state again.
    if (badge.getAttribute("data-kiosk") !== (known ? "ok" : "unknown")) location.reload();
  }
  function remainingText(state, seconds) {
    if ((state !== "sold" && state !== "in_use") || seconds === null || seconds === undefined) return "";
    return (t["kiosk.remaining"] || "{d}").replace("{d}", window.SeatMap ? window.SeatMap.duration(seconds) : seconds);
  }
  function applyKioskSeat(s, known) {
    var cell = document.querySelector('.floor-cell[data-kiosk-seat-id="' + CSS.escape(s.kiosk_seat_id) + '"]');
    if (!cell) return;
    var k = s.state === null ? "none" : (known ? s.state : "unknown");
    STATES.forEach(function (x) { cell.classList.remove("kiosk-" + x); });
    cell.classList.add("kiosk-" + k);
    cell.setAttribute("data-kiosk-state", k);
    var mark = cell.querySelector(".kiosk-mark");
    if (!mark) return;
    mark.querySelector(".kiosk-icon").textContent = ICONS[k] || "";
    mark.querySelector(".kiosk-text").textContent = t["kiosk.state." + k] || k;
    var rem = mark.querySelector(".remaining");
    var text = remainingText(k, s.remaining_s);
    if (rem) rem.textContent = text;
    else if (text) {
      rem = document.createElement("span");
      rem.className = "remaining";
      rem.textContent = text;
      mark.appendChild(document.createTextNode(" \u00b7 "));
      mark.appendChild(rem);
    }
  }
  function applyAlert(a) {
    if (KINDS.indexOf(a.kind) < 0 || !a.seat_id) return;
    var cell = document.querySelector('.floor-cell[data-seat-id="' + CSS.escape(a.seat_id) + '"]');
    if (!cell) return;
    var kinds = (cell.getAttribute("data-alerts") || "").split(" ").filter(Boolean);
    kinds = kinds.filter(function (k) { return k !== a.kind; });
    if (a.event !== "closed") kinds.push(a.kind);
    cell.setAttribute("data-alerts", kinds.join(" "));
    cell.classList.toggle("has-alert", kinds.length > 0);
    var list = cell.querySelector(".cell-alerts");
    if (!list) return;
    list.textContent = "";
    kinds.forEach(function (k) {
      var li = document.createElement("li");
      li.setAttribute("data-kind", k);
      var label = cell.getAttribute("data-camera-label") || cell.getAttribute("data-label") || "";
      li.textContent = "\u2691 " + (t["alert." + k] || k).replace("{seat}", label);
      list.appendChild(li);
    });
  }
  document.addEventListener("seat-live", function (ev) {
    var msg = ev.detail;
    if (msg.type === "kiosk" && msg.store_id === storeId) {
      msg.seats.forEach(function (s) { applyKioskSeat(s, msg.known); });
      badgeKnown(msg.known);
    } else if (msg.type === "alert" && msg.store_id === storeId) {
      applyAlert(msg);
    }
  });
  function refresh() {
    fetch("/api/v1/stores/" + encodeURIComponent(storeId) + "/kiosk", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        (data.seats || []).forEach(function (s) { applyKioskSeat(s, data.known); });
        if (data.adapter) badgeKnown(data.known);
      })
      .catch(function () {});
  }
  setInterval(refresh, 60000);
})();
