/* cmdesk: charts from embedded JSON (vendored ECharts), re-run after htmx swaps. */
(function () {
  "use strict";
  var charts = [];

  function initCharts(root) {
    if (!window.echarts) return;
    root.querySelectorAll("[data-chart='pie']").forEach(function (el) {
      if (el.dataset.ready) return;
      var source = document.getElementById(el.dataset.source);
      if (!source) return;
      var data = JSON.parse(source.textContent);
      var chart = window.echarts.init(el);
      chart.setOption({
        tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
        legend: { bottom: 0, type: "scroll" },
        series: [{
          type: "pie",
          radius: ["35%", "62%"],
          center: ["50%", "44%"],
          avoidLabelOverlap: true,
          label: { formatter: "{b}\n{d}%" },
          data: data
        }]
      });
      el.dataset.ready = "1";
      charts.push(chart);
    });
  }

  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
  });
  document.addEventListener("DOMContentLoaded", function () { initCharts(document); });
  document.addEventListener("htmx:afterSettle", function (e) { initCharts(e.target); });
})();

/* Filter forms: leave empty fields out of the query string, so pushed URLs stay short and shareable. */
document.addEventListener("htmx:configRequest", function (e) {
  var form = e.detail.elt;
  var data = e.detail.formData;
  if (!form || form.id !== "filter-form" || !data) return;
  Array.from(new Set(data.keys())).forEach(function (key) {
    if (data.getAll(key).every(function (v) { return v === ""; })) data.delete(key);
  });
});
