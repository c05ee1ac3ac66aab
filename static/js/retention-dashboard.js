// Retention dashboard chart (Chart.js, served from static/vendor): active owners per month. The
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
});
