// Complaint dashboard charts (Chart.js, served from static/vendor). The tables beside them hold
// the same figures, so the page reads fine without JavaScript.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Chart === "undefined") return;
  var data = JSON.parse(document.getElementById("complaint-chart-data").textContent);
  var labels = data.labels;
  var rateCanvas = document.getElementById("rate-chart");
  if (rateCanvas) {
    new Chart(rateCanvas, {
      data: {
        labels: data.months,
        datasets: [
          { type: "line", label: labels.sales, data: data.sales_rate, yAxisID: "rate", borderColor: "#0b69a3", spanGaps: true },
          { type: "line", label: labels.service, data: data.service_rate, yAxisID: "rate", borderColor: "#b44d12", spanGaps: true },
          { type: "bar", label: labels.complaints, data: data.complaints, yAxisID: "count", backgroundColor: "#d9e2ec" }
        ]
      },
      options: {
        animation: false, maintainAspectRatio: false,
        scales: {
          // Rates carry their unit; the month in progress has no point on the lines (see the view).
          rate: { position: "left", beginAtZero: true, ticks: { callback: function (value) { return value + "%"; } } },
          count: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } }
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: function (item) {
                var value = item.formattedValue;
                return item.dataset.label + ": " + (item.dataset.yAxisID === "rate" ? value + "%" : value);
              }
            }
          }
        }
      }
    });
  }
  function bars(id, pairs) {
    var canvas = document.getElementById(id);
    if (!canvas || !pairs.length) return;
    new Chart(canvas, {
      type: "bar",
      data: { labels: pairs.map(function (p) { return p[0]; }), datasets: [{ label: labels.complaints, data: pairs.map(function (p) { return p[1]; }), backgroundColor: "#0b69a3" }] },
      options: { animation: false, maintainAspectRatio: false, indexAxis: "y", plugins: { legend: { display: false } } }
    });
  }
  bars("type-chart", data.by_type);
  bars("channel-chart", data.by_channel);
});
