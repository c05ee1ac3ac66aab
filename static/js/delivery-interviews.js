// Delivery interviews (交车满意度面访): the average score per factor as a bar chart (Chart.js, served
// from static/vendor). The table below holds the same figures, so the page reads fine without it.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Chart === "undefined") return;
  var canvas = document.getElementById("interview-chart");
  var source = document.getElementById("interview-chart-data");
  if (!canvas || !source) return;
  var data = JSON.parse(source.textContent);
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [{
        label: data.title, data: data.averages,
        backgroundColor: data.averages.map(function (value) { return value <= 2 ? "#ba2525" : "#0b69a3"; })
      }]
    },
    options: {
      animation: false, maintainAspectRatio: false, indexAxis: "y",
      scales: { x: { min: 0, max: 5, ticks: { stepSize: 1 } } },
      plugins: { legend: { display: false } }
    }
  });
});
