/* The managers' dashboard: draws the charts from the JSON the page carries
 * (json_script, not executed, allowed by the Content-Security-Policy) and draws them again
 * after htmx replaced the figures (every minute). Texts come from the page, translated. */
(function () {
  "use strict";
  var PALETTE = ["#dc3545", "#fd7e14", "#ffc107", "#0dcaf0", "#adb5bd", "#198754", "#6610f2", "#0d6efd", "#d63384", "#20c997"];
  var charts = [];

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas || typeof Chart === "undefined") return;
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    charts.push(new Chart(canvas, config));
  }

  function drawAll() {
    charts.forEach(function (chart) { chart.destroy(); });
    charts = [];
    var data = readJson("dashboard-charts");
    var texts = readJson("dashboard-texts") || {};
    if (!data) return;
    draw("chart-backlog", {
      type: "bar",
      data: {
        labels: data.backlog.labels,
        datasets: data.backlog.datasets.map(function (set, index) {
          return { label: set.label, data: set.data, backgroundColor: PALETTE[index % PALETTE.length] };
        })
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
    });
    draw("chart-calls", {
      type: "doughnut",
      data: {
        labels: data.calls.labels,
        datasets: [{ label: texts.calls, data: data.calls.data, backgroundColor: ["#198754", "#dc3545", "#fd7e14", "#adb5bd"] }]
      },
      options: { plugins: { legend: { position: "right" } } }
    });
    draw("chart-channel", {
      type: "doughnut",
      data: {
        labels: data.channel.labels,
        datasets: [{ label: texts.tickets, data: data.channel.data, backgroundColor: PALETTE.slice(5).concat(PALETTE.slice(0, 5)) }]
      },
      options: { plugins: { legend: { position: "right" } } }
    });
    draw("chart-service", {
      type: "bar",
      data: {
        labels: data.service.labels,
        datasets: [{ label: texts.tickets, data: data.service.data, backgroundColor: "#0d6efd" }]
      },
      options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }

  // Dates make the period custom; another period clears them (the server reads them only
  // for a custom period).
  function linkPeriodAndDates() {
    var period = document.getElementById("id_period");
    var dates = [document.getElementById("id_date_from"), document.getElementById("id_date_to")];
    if (!period || !dates[0] || !dates[1]) return;
    dates.forEach(function (input) {
      input.addEventListener("change", function () { if (input.value) period.value = "custom"; });
    });
    period.addEventListener("change", function () {
      if (period.value !== "custom") dates.forEach(function (input) { input.value = ""; });
    });
  }

  document.addEventListener("DOMContentLoaded", drawAll);
  document.addEventListener("DOMContentLoaded", linkPeriodAndDates);
  // htmx announces the figures it swapped in (outerHTML: the old element is gone).
  document.addEventListener("htmx:load", function (event) {
    if (event.detail.elt && event.detail.elt.id === "dashboard-figures") drawAll();
  });
})();
