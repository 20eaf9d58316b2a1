// Draws each <canvas data-chart="ID"> of the Operations pages with Chart.js (a static file of our
// own, no inline script), from the JSON that Django's json_script put in the element #ID. Every
// chart's numbers are also in the table below it. Redrawn after htmx swaps a panel.
(function () {
  "use strict";
  var colours = ["#0a58ca", "#bf8700", "#cf222e", "#1a7f37", "#8250df", "#57606a"];

  function draw(root) {
    if (!window.Chart) { return; }
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.getAttribute("data-chart"));
      if (!source) { return; }
      var spec = JSON.parse(source.textContent);
      var existing = window.Chart.getChart(canvas);
      if (existing) { existing.destroy(); }
      var valueAxis = spec.indexAxis === "y" ? "x" : "y";
      var scales = { x: { stacked: !!spec.stacked }, y: { stacked: !!spec.stacked } };
      scales[valueAxis].beginAtZero = true;
      if (spec.max) { scales[valueAxis].max = spec.max; }
      new window.Chart(canvas, {
        type: spec.type || "bar",
        data: {
          labels: spec.labels,
          datasets: spec.datasets.map(function (dataset, i) {
            return Object.assign({ backgroundColor: colours[i % colours.length] }, dataset);
          })
        },
        options: {
          animation: false, responsive: true, maintainAspectRatio: false, indexAxis: spec.indexAxis || "x",
          scales: scales, plugins: { legend: { position: "bottom" } }
        }
      });
    });
  }

  function start() {
    draw(document);
    document.body.addEventListener("htmx:afterSettle", function () { draw(document); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
