// Retention dashboard charts (Chart.js, served from static/vendor): active owners per month, and the
// customers won back in the month per contact that brought them back. The
// month in progress is drawn dashed and hollow, so it never reads as a real drop. The table below
// holds the same figures, so the page reads fine without JavaScript.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Chart === "undefined") return;
  var data = JSON.parse(document.getElementById("retention-chart-data").textContent);
  var canvas = document.getElementById("active-chart");
  if (!canvas) return;
  var labels = data.months.map(function (month, i) { return data.partial[i] ? month + " (" + data.labels.partial + ")" : month; });
  new Chart(canvas, {
    type: "line",
    data: {
      labels: labels,
      datasets: [{
        label: data.labels.active, data: data.active, borderColor: "#0b69a3", backgroundColor: "#0b69a3",
        pointStyle: data.partial.map(function (p) { return p ? "rectRot" : "circle"; }),
        pointBackgroundColor: data.partial.map(function (p) { return p ? "#ffffff" : "#0b69a3"; }),
        segment: { borderDash: function (ctx) { return data.partial[ctx.p1DataIndex] ? [6, 4] : undefined; } }
      }]
    },
    options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } }
  });
  var wonBack = document.getElementById("won-back-chart");
  if (wonBack && data.won_back.labels.length) {
    new Chart(wonBack, {
      type: "bar",
      data: {
        labels: data.won_back.labels,
        datasets: [
          { label: data.won_back.names.returns, data: data.won_back.returns, backgroundColor: "#0b69a3", yAxisID: "y" },
          { label: data.won_back.names.revenue, data: data.won_back.revenue, backgroundColor: "#e0a526", yAxisID: "revenue" }
        ]
      },
      options: {
        animation: false, maintainAspectRatio: false,
        scales: {
          y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: data.won_back.names.returns } },
          revenue: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: data.won_back.names.revenue } }
        }
      }
    });
  }
});
