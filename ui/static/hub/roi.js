// ROI editor: seat polygons of one channel, in frame fractions (0..1) drawn on a 1600 x 900 SVG.
// New seat: click the points around the seat, then "finish" (or click the first point again).
// Selected seat: drag a corner to move it, click a small mid-edge dot to add a corner there,
// double-click a corner to remove it. The whole edge's layout (all channels) is saved at once.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("roi-data").textContent);
  var T = JSON.parse(document.getElementById("roi-i18n").textContent);
  var NS = "http://www.w3.org/2000/svg";
  var svg = document.getElementById("roi-svg");
  var seatsG = document.getElementById("roi-seats");
  var handlesG = document.getElementById("roi-handles");
  var $ = function (id) { return document.getElementById(id); };
  // every field of a seat is kept as it came (e.g. its desk zone); the editor changes only
  // the polygon, the id and the label
  var seats = D.seats.map(function (s) {
    return Object.assign({}, s, { label: s.label || "", polygon: s.polygon.map(function (p) { return [p[0], p[1]]; }) });
  });
  var selected = null;   // index into seats
  var drawing = null;    // points of the seat being drawn
  var drag = null;       // {seat, point}
  var dirty = false;

  function fmt(key, vars) { return (T[key] || key).replace(/\{(\w+)\}/g, function (_, k) { return vars[k]; }); }
  function el(name, attrs) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  function toFrac(ev) {
    var pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    var p = pt.matrixTransform(svg.getScreenCTM().inverse());
    return [Math.min(1, Math.max(0, Math.round(p.x / D.w * 10000) / 10000)),
            Math.min(1, Math.max(0, Math.round(p.y / D.h * 10000) / 10000))];
  }
  function pts(poly) { return poly.map(function (p) { return (p[0] * D.w) + "," + (p[1] * D.h); }).join(" "); }
  function here() { return seats.map(function (s, i) { return i; }).filter(function (i) { return seats[i].channel === D.channel; }); }
  function setDirty(v) { dirty = v; $("roi-dirty").hidden = !v; }
  function nextId() {
    var used = {}; seats.forEach(function (s) { used[s.seat_id] = true; });
    for (var n = 1; ; n++) { var id = "c" + D.channel + "-" + (n < 10 ? "0" : "") + n; if (!used[id]) return id; }
  }

  function render() {
    seatsG.textContent = ""; handlesG.textContent = "";
    here().forEach(function (i) {
      var s = seats[i];
      var g = el("g", { "class": "roi-seat" + (i === selected ? " selected" : ""), "data-seat-id": s.seat_id });
      var poly = el("polygon", { points: pts(s.polygon) });
      poly.addEventListener("pointerdown", function (ev) { if (drawing) return; ev.stopPropagation(); select(i); });
      g.appendChild(poly);
      var cx = 0, cy = 0;
      s.polygon.forEach(function (p) { cx += p[0]; cy += p[1]; });
      var label = el("text", { x: cx / s.polygon.length * D.w, y: cy / s.polygon.length * D.h, "class": "roi-label" });
      label.textContent = s.label || s.seat_id;
      g.appendChild(label);
      seatsG.appendChild(g);
    });
    if (selected !== null) {
      var s = seats[selected];
      s.polygon.forEach(function (p, j) {
        var q = s.polygon[(j + 1) % s.polygon.length];
        var mid = el("circle", { cx: (p[0] + q[0]) / 2 * D.w, cy: (p[1] + q[1]) / 2 * D.h, r: 9, "class": "roi-mid", "data-after": j });
        mid.addEventListener("pointerdown", function (ev) {
          ev.stopPropagation();
          if (!D.can_edit) return;
          s.polygon.splice(j + 1, 0, [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2]);
          setDirty(true); render();
        });
        handlesG.appendChild(mid);
      });
      s.polygon.forEach(function (p, j) {
        var h = el("circle", { cx: p[0] * D.w, cy: p[1] * D.h, r: 16, "class": "roi-handle", "data-point": j });
        h.addEventListener("pointerdown", function (ev) { ev.stopPropagation(); if (!D.can_edit) return; drag = { seat: selected, point: j }; svg.setPointerCapture(ev.pointerId); });
        h.addEventListener("dblclick", function (ev) {
          ev.stopPropagation();
          if (!D.can_edit) return;
          if (s.polygon.length <= 3) { message(T["roi.need3"], true); return; }
          s.polygon.splice(j, 1); setDirty(true); render();
        });
        handlesG.appendChild(h);
      });
    }
    if (drawing) {
      if (drawing.length) handlesG.appendChild(el("polyline", { points: pts(drawing), "class": "roi-drawing" }));
      drawing.forEach(function (p, j) {
        var h = el("circle", { cx: p[0] * D.w, cy: p[1] * D.h, r: j === 0 ? 18 : 12, "class": "roi-draw-point" + (j === 0 ? " first" : "") });
        if (j === 0) h.addEventListener("pointerdown", function (ev) { ev.stopPropagation(); finish(); });
        handlesG.appendChild(h);
      });
    }
    renderList(); renderFields();
    $("roi-finish").disabled = !drawing || drawing.length < 3;
    $("roi-cancel").disabled = !drawing;
    $("roi-delete").disabled = selected === null;
    $("roi-new").disabled = !!drawing;
  }
  function renderList() {
    var ul = $("roi-list"); ul.textContent = "";
    here().forEach(function (i) {
      var li = document.createElement("li");
      var b = document.createElement("button");
      b.type = "button"; b.textContent = (seats[i].label || seats[i].seat_id) + " (" + seats[i].seat_id + ")";
      if (i === selected) b.className = "on";
      b.addEventListener("click", function () { select(i); });
      li.appendChild(b); ul.appendChild(li);
    });
  }
  function renderFields() {
    var s = selected === null ? null : seats[selected];
    $("roi-fields").hidden = !s; $("roi-none").hidden = !!s;
    if (!s) return;
    if (document.activeElement !== $("roi-seat-id")) $("roi-seat-id").value = s.seat_id;
    if (document.activeElement !== $("roi-label")) $("roi-label").value = s.label;
    $("roi-points").textContent = s.polygon.map(function (p) { return "(" + p[0].toFixed(3) + ", " + p[1].toFixed(3) + ")"; }).join(" ");
  }
  function select(i) { selected = i; render(); }
  function message(text, bad) { var m = $("roi-message"); m.textContent = text; m.className = bad ? "error" : "ok"; }
  function finish() {
    if (!drawing || drawing.length < 3) { message(T["roi.need3"], true); return; }
    var id = nextId();
    seats.push({ seat_id: id, channel: D.channel, label: id, type: "desk", active: true, polygon: drawing });
    drawing = null; selected = seats.length - 1; setDirty(true);
    $("roi-hint").textContent = T["roi.hint"];
    render();
    $("roi-label").focus(); $("roi-label").select();
  }

  svg.addEventListener("pointerdown", function (ev) {
    if (!D.can_edit) return;
    if (drawing) { drawing.push(toFrac(ev)); render(); return; }
    if (selected !== null) { selected = null; render(); }
  });
  svg.addEventListener("pointermove", function (ev) {
    if (!drag) return;
    seats[drag.seat].polygon[drag.point] = toFrac(ev);
    setDirty(true); render();
  });
  svg.addEventListener("pointerup", function () { drag = null; });
  $("roi-new").addEventListener("click", function () {
    drawing = []; selected = null; $("roi-hint").textContent = T["roi.draw_hint"]; render();
  });
  $("roi-finish").addEventListener("click", finish);
  $("roi-cancel").addEventListener("click", function () { drawing = null; $("roi-hint").textContent = T["roi.hint"]; render(); });
  $("roi-delete").addEventListener("click", function () {
    if (selected === null) return;
    if (!window.confirm(fmt("roi.confirm_delete", { seat: seats[selected].label || seats[selected].seat_id }))) return;
    seats.splice(selected, 1); selected = null; setDirty(true); render();
  });
  if (!D.can_edit) { $("roi-seat-id").readOnly = true; $("roi-label").readOnly = true; }
  $("roi-seat-id").addEventListener("input", function (ev) { seats[selected].seat_id = ev.target.value.trim(); setDirty(true); render(); });
  $("roi-label").addEventListener("input", function (ev) { seats[selected].label = ev.target.value; setDirty(true); render(); });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && drawing) { drawing = null; render(); }
    if (ev.key === "Enter" && drawing) { ev.preventDefault(); finish(); }
  });
  window.addEventListener("beforeunload", function (ev) { if (dirty) { ev.preventDefault(); ev.returnValue = ""; } });

  // base_version: the version this edit started from; the hub refuses a save on an older one (409).
  var baseVersion = D.status.version;
  function body() { return { seats: seats, rules: D.rules, base_version: baseVersion }; }
  function showProblems(list) {
    var ul = $("roi-problems"); ul.textContent = "";
    (list || []).forEach(function (p) { var li = document.createElement("li"); li.textContent = p; ul.appendChild(li); });
  }
  function send(method, url, payload) {
    var headers = { "Content-Type": "application/json" };
    var csrf = document.querySelector('meta[name="csrf-token"]');
    if (csrf) headers["X-CSRF-Token"] = csrf.getAttribute("content");
    return fetch(url, { method: method, headers: headers, credentials: "same-origin", body: payload ? JSON.stringify(payload) : undefined })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (j) { return { status: r.status, body: j }; }); });
  }
  $("roi-check").addEventListener("click", function () {
    send("POST", "/stores/" + encodeURIComponent(D.store_id) + "/roi/check", { edge_id: D.edge_id, seats: seats }).then(function (r) {
      showProblems(r.body.problems || (r.status === 200 ? [] : [r.body.detail || ("HTTP " + r.status)]));
      message(r.body.ok ? T["roi.check_ok"] : T["roi.save_failed"], !r.body.ok);
    });
  });
  function showStatus(st) {
    var word = st.status;
    var s = $("roi-status"); s.setAttribute("data-status", word); s.textContent = T["roi.status." + word];
    $("roi-version").textContent = st.desired_version ? fmt("roi.version", { desired: st.desired_version, applied: st.applied_version }) : "";
    var err = $("roi-ack-error"); err.hidden = !st.ack_error; err.textContent = st.ack_error ? fmt("roi.edge_error", { error: st.ack_error }) : "";
    return word;
  }
  var polling = null;
  function poll() {
    clearTimeout(polling);
    send("GET", "/api/v1/stores/" + encodeURIComponent(D.store_id) + "/edges/" + encodeURIComponent(D.edge_id) + "/config")
      .then(function (r) { if (r.status === 200 && showStatus(r.body) === "pending") polling = setTimeout(poll, 2000); })
      .catch(function () { polling = setTimeout(poll, 5000); });
  }
  $("roi-save").addEventListener("click", function () {
    if (drawing) { message(T["roi.need3"], true); return; }
    $("roi-save").disabled = true;
    send("PUT", "/api/v1/stores/" + encodeURIComponent(D.store_id) + "/edges/" + encodeURIComponent(D.edge_id) + "/config", body())
      .then(function (r) {
        $("roi-save").disabled = false;
        if (r.status === 200) {
          baseVersion = r.body.version;
          showProblems([]); setDirty(false); message(fmt("roi.saved", { v: r.body.desired_version }), false);
          showStatus(r.body); poll();
        } else if (r.status === 409) {
          message(T["roi.stale"], true);
        } else {
          showProblems(r.body.problems || []); message(T["roi.save_failed"] + " " + (r.body.detail || ""), true);
        }
      });
  });
  // ---- the channel's picture (the hub's snapshot API; absent: the neutral 16:9 canvas stays)
  var snapBase = "/api/v1/stores/" + encodeURIComponent(D.store_id);
  function note(text) { $("roi-picture-note").textContent = text; }
  function showPicture(snap) {
    var img = new Image();
    img.onload = function () {
      // the picture's own aspect ratio: coordinates stay fractions of the frame
      D.h = Math.round(D.w * img.naturalHeight / img.naturalWidth);
      svg.setAttribute("viewBox", "0 0 " + D.w + " " + D.h);
      var pic = $("roi-picture");
      pic.setAttribute("href", snap.url); pic.setAttribute("height", D.h); pic.setAttribute("visibility", "visible");
      $("roi-neutral").setAttribute("visibility", "hidden");
      svg.setAttribute("data-picture", String(snap.id));
      note(fmt("roi.snapshot_taken", { time: new Date((snap.received_at || snap.requested_at) * 1000).toLocaleString(
        "sv-SE", { timeZone: document.body.dataset.zone || "Asia/Seoul" }), n: snap.faces_blurred || 0 }));  // "2026-12-04 22:33:05", store time
      render();
    };
    img.src = snap.url;
  }
  function latest(list) {
    return (list || []).filter(function (x) { return x.edge_id === D.edge_id && x.channel === D.channel && x.status === "ready"; })[0];
  }
  function loadLatest() {
    send("GET", snapBase + "/snapshots").then(function (r) {
      if (r.status === 200) { var s = latest(r.body); if (s) showPicture(s); }
    }).catch(function () {});
  }
  function waitFor(id, until) {
    send("GET", snapBase + "/snapshots").then(function (r) {
      var s = (r.body || []).filter(function (x) { return x.id === id; })[0];
      if (s && s.status === "ready") { $("roi-snapshot").disabled = false; showPicture(s); return; }
      if (s && s.status === "failed") { $("roi-snapshot").disabled = false; note(fmt("roi.snapshot_failed", { error: s.error })); return; }
      if (Date.now() > until) { $("roi-snapshot").disabled = false; note(fmt("roi.snapshot_failed", { error: "timeout" })); return; }
      setTimeout(function () { waitFor(id, until); }, 1000);
    });
  }
  $("roi-snapshot").addEventListener("click", function () {
    $("roi-snapshot").disabled = true;
    note(T["roi.snapshot_wait"]);
    send("POST", snapBase + "/edges/" + encodeURIComponent(D.edge_id) + "/snapshots", { channel: D.channel }).then(function (r) {
      if (r.status === 202 || r.status === 200) { waitFor(r.body.id, Date.now() + 30000); return; }
      $("roi-snapshot").disabled = r.status === 404 || r.status === 405;
      note(r.status === 404 || r.status === 405 ? T["roi.snapshot_none"] : fmt("roi.snapshot_failed", { error: r.body.detail || ("HTTP " + r.status) }));
    });
  });
  if (!D.can_edit) $("roi-snapshot").hidden = true; else loadLatest();

  showStatus(D.status);
  if (showStatus(D.status) === "pending") poll();
  render();
})();
