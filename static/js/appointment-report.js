// Bookings per day against capacity (Chart.js, served from static/vendor): bookings as bars, the
// day's places as a line. The table below holds the same figures.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Chart === "undefined") return;
  var canvas = document.getElementById("appointment-chart");
  var source = document.getElementById("appointment-chart-data");
  if (!canvas || !source) return;
  var data = JSON.parse(source.textContent);
  new Chart(canvas, {
    data: {
      labels: data.days,
      datasets: [
        { type: "bar", label: data.labels.booked, data: data.booked, backgroundColor: "#0b69a3" },
        { type: "line", label: data.labels.capacity, data: data.capacity, borderColor: "#b44d12", stepped: "middle" }
      ]
    },
    options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
});
