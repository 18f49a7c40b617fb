/* cmdesk KPI dashboard: the trend and price-class charts from embedded JSON (vendored ECharts, no CDN). */
(function () {
  "use strict";
  var charts = [];

  function data(el) {
    var source = document.getElementById(el.dataset.source);
    return source ? JSON.parse(source.textContent) : null;
  }

  function trend(el, d) {
    return {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 8, right: 12, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: d.months },
      yAxis: { type: "value", name: d.unit, nameTextStyle: { align: "left" } },
      series: [
        { name: d.series[0].name, type: "bar", data: d.series[0].data, itemStyle: { color: "#0d6efd" } },
        { name: d.series[1].name, type: "line", data: d.series[1].data, symbolSize: 6,
          itemStyle: { color: "#adb5bd" }, lineStyle: { type: "dashed" } }
      ]
    };
  }

  function pie(el, d) {
    return {
      tooltip: { trigger: "item", formatter: "{b}<br>" + d.unit + ": {c} ({d}%)" },
      legend: { bottom: 0, type: "scroll" },
      series: [{
        type: "pie",
        radius: ["35%", "62%"],
        center: ["50%", "44%"],
        avoidLabelOverlap: true,
        label: { formatter: "{b}\n{d}%" },
        data: d.data
      }]
    };
  }

  var BUILDERS = { trend: trend, pie: pie };

  function init(root) {
    if (!window.echarts) return;
    root.querySelectorAll("[data-kpi-chart]").forEach(function (el) {
      if (el.dataset.ready) return;
      var build = BUILDERS[el.dataset.kpiChart];
      var d = data(el);
      if (!build || d === null) return;
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(build(el, d));
      el.dataset.ready = "1";
      charts.push(chart);
    });
  }

  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
  document.addEventListener("htmx:afterSettle", function (e) { init(e.target); });
})();
