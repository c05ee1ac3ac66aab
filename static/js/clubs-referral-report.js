// Referral-sales chart (Chart.js, served from static/vendor): referral sales and referrals recorded
// per month as bars, their share of the deliveries as a line. The table below holds the same figures.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Chart === "undefined") return;
  var canvas = document.getElementById("referral-chart");
  var source = document.getElementById("referral-chart-data");
  if (!canvas || !source) return;
  var data = JSON.parse(source.textContent);
  new Chart(canvas, {
    data: {
      labels: data.months,
      datasets: [
        { type: "bar", label: data.labels.won, data: data.won, yAxisID: "count", backgroundColor: "#0b69a3" },
        { type: "bar", label: data.labels.recorded, data: data.recorded, yAxisID: "count", backgroundColor: "#d9e2ec" },
        { type: "line", label: data.labels.share, data: data.share, yAxisID: "share", borderColor: "#b44d12", spanGaps: true }
      ]
    },
    options: {
      animation: false, maintainAspectRatio: false,
      scales: {
        count: { position: "left", beginAtZero: true, ticks: { precision: 0 } },
        share: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } }
      }
    }
  });
});
