// Charts for the overview and history pages, drawn by the vendored Apache ECharts (SVG renderer).
// Each chart element names its kind (data-chart) and the <script type="application/json"> holding
// its data (data-source); the numbers are the same ones the page's tables show without JS.
(function () {
  "use strict";
  var PALETTE = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457"];
  var strings = {};
  var i18nEl = document.getElementById("chart-i18n");
  if (i18nEl) strings = JSON.parse(i18nEl.textContent);

  function pctAxis() {
    return { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } };
  }
  var builders = {
    compare: function (d) {
      var ids = Object.keys(d.series);
      return {
        color: PALETTE, tooltip: { trigger: "axis", valueFormatter: function (v) { return v == null ? "-" : v + "%"; } },
        legend: { top: 0 }, grid: { left: 48, right: 16, top: 40, bottom: 32 },
        xAxis: { type: "category", data: d.hours, name: strings["history.hour_axis"] }, yAxis: pctAxis(),
        // a different symbol per store too, so the lines can be told apart without colour
        series: ids.map(function (id, i) {
          return { name: d.names[id] || id, type: "line", data: d.series[id], connectNulls: false,
                   symbol: ["circle", "rect", "triangle", "diamond", "pin", "arrow", "roundRect"][i % 7],
                   symbolSize: 7, lineStyle: { width: 2, type: i % 2 ? "dashed" : "solid" } };
        }),
      };
    },
    heatmap: function (d) {
      return {
        tooltip: { formatter: function (p) { return d.days[p.value[1]] + " " + d.hours[p.value[0]] + ":00 — " + p.value[2] + "%"; } },
        grid: { left: 88, right: 16, top: 8, bottom: 72 },
        xAxis: { type: "category", data: d.hours, name: strings["history.hour_axis"], splitArea: { show: true } },
        yAxis: { type: "category", data: d.days, splitArea: { show: true } },
        visualMap: { min: 0, max: 100, calculable: true, orient: "horizontal", left: "center", bottom: 0,
                     text: ["100%", "0%"], inRange: { color: ["#f1f8e9", "#90caf9", "#1565c0", "#0d2a5c"] } },
        series: [{ name: strings["history.heatmap"], type: "heatmap", data: d.heat,
                   label: { show: d.days.length <= 10, fontSize: 9, formatter: function (p) { return Math.round(p.value[2]); } } }],
      };
    },
    line: function (d) {
      return {
        color: PALETTE, tooltip: { trigger: "axis", valueFormatter: function (v) { return v == null ? "-" : v + "%"; } },
        grid: { left: 48, right: 16, top: 16, bottom: 56 },
        xAxis: { type: "category", data: d.line.x, name: strings["history.time_axis"], nameLocation: "middle", nameGap: 26 },
        yAxis: pctAxis(),
        dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 4 }],
        series: [{ name: strings["history.occupancy"], type: "line", data: d.line.y, symbolSize: 5, areaStyle: { opacity: 0.15 } }],  // symbols: a lone hour of data is still visible
      };
    },
    perday: function (d) {
      return {
        color: ["#1565c0", "#ef6c00"], tooltip: { trigger: "axis" }, legend: { top: 0 },
        aria: { enabled: true, decal: { show: true } },  // a pattern per series, not colour alone
        grid: { left: 48, right: 56, top: 36, bottom: 32 },
        xAxis: { type: "category", data: d.perday.x },
        yAxis: [{ type: "value", name: strings["history.turnover"] }, { type: "value", name: strings["history.avg_stay"] }],
        series: [
          { name: strings["history.turnover"], type: "bar", data: d.perday.turnover },
          { name: strings["history.avg_stay"], type: "bar", yAxisIndex: 1, data: d.perday.avg_stay },
        ],
      };
    },
  };
  // Values a chart would draw; none at all gets a visible "nothing recorded yet" instead of bare axes.
  var valuesOf = {
    compare: function (d) { return [].concat.apply([], Object.keys(d.series).map(function (k) { return d.series[k]; })); },
    heatmap: function (d) { return d.heat; },
    line: function (d) { return d.line.y; },
    perday: function (d) { return d.perday.turnover.filter(function (v) { return v > 0; }).concat(d.perday.avg_stay); },
  };
  function noData(option) {
    option.graphic = [{ type: "text", left: "center", top: "middle", silent: true,
      style: { text: strings["chart.no_data"] || "-", fontSize: 16, fill: "#5b6470" } }];
    return option;
  }
  function draw() {
    if (!window.echarts) return;
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var src = document.getElementById(el.getAttribute("data-source"));
      var data = src ? JSON.parse(src.textContent) : null;
      var build = builders[el.getAttribute("data-chart")];
      if (!data || !build) return;
      var kind = el.getAttribute("data-chart");
      var empty = !valuesOf[kind](data).some(function (v) { return v !== null && v !== undefined; });
      var chart = echarts.init(el, null, { renderer: "svg" });
      chart.setOption(empty ? noData(build(data)) : build(data));
      el.setAttribute("data-empty", empty ? "1" : "0");
      el.setAttribute("data-drawn", "1");
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
