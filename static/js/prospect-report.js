// Prospects won and lost per source (Chart.js, served from static/vendor): stacked bars of won,
// lost and still open. The tables below hold the same figures.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Chart === "undefined") return;
  var canvas = document.getElementById("prospect-chart");
  var source = document.getElementById("prospect-chart-data");
  if (!canvas || !source) return;
  var data = JSON.parse(source.textContent);
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.sources,
      datasets: [
        { label: data.labels.won, data: data.won, backgroundColor: "#2e7d32" },
        { label: data.labels.lost, data: data.lost, backgroundColor: "#b44d12" },
        { label: data.labels.open, data: data.open, backgroundColor: "#0b69a3" }
      ]
    },
    options: { animation: false, maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
  });
});
