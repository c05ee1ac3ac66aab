// Follow-up report charts (Chart.js); the figures come from the page's json_script block.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  if (!window.Chart) return;
  var data = JSON.parse(document.getElementById("report-data").textContent);
  // Each chart fills its .chart-box (which sets the height); its width follows the box, not the canvas.
  Chart.defaults.maintainAspectRatio = false;
  new Chart(document.getElementById("chart-rules"), {type: "bar", data: {labels: data.rules, datasets: [
    {label: data.labels.made, data: data.made}, {label: data.labels.reached, data: data.reached},
    {label: data.labels.satisfied, data: data.satisfied}]}});
  var funnel = document.getElementById("chart-funnel");
  if (funnel) {
    new Chart(funnel, {type: "bar", data: {labels: data.funnel_rules, datasets: [
      {label: data.funnel_labels.reached, data: data.funnel.reached},
      {label: data.funnel_labels.booked, data: data.funnel.booked},
      {label: data.funnel_labels.kept, data: data.funnel.kept},
      {label: data.funnel_labels.orders, data: data.funnel.orders}]}});
  }
  new Chart(document.getElementById("chart-daily"), {type: "line", data: {labels: data.days, datasets: [
    {label: data.labels.made, data: data.daily_made}, {label: data.labels.reached, data: data.daily_reached}]}});
  new Chart(document.getElementById("chart-satisfaction"), {type: "bar", data: {labels: ["1", "2", "3", "4", "5"],
    datasets: [{label: data.labels.satisfied, data: data.satisfaction}]}});
});
