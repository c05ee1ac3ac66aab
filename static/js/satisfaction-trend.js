// Satisfaction over time (Chart.js, served from static/vendor): the average score and the share
// dissatisfied per month, the average per group, and the distribution of the scores. The month in
// progress is drawn dashed and hollow, so a few early results never read as the month's figure.
// The tables under the charts hold the same figures, so the page reads fine without JavaScript.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Chart === "undefined") return;
  var source = document.getElementById("satisfaction-chart-data");
  if (!source) return;
  var data = JSON.parse(source.textContent);
  var labels = data.months.map(function (month, i) { return data.partial[i] ? month + " (" + data.labels.partial + ")" : month; });
  var palette = ["#0b69a3", "#c0392b", "#27ae60", "#8e44ad", "#e67e22", "#16a085", "#7f8c8d", "#d35400"];
  function partialLine(color) {
    return {
      borderColor: color, backgroundColor: color, spanGaps: true,
      pointStyle: data.partial.map(function (p) { return p ? "rectRot" : "circle"; }),
      pointBackgroundColor: data.partial.map(function (p) { return p ? "#ffffff" : color; }),
      segment: { borderDash: function (ctx) { return data.partial[ctx.p1DataIndex] ? [6, 4] : undefined; } }
    };
  }
  var months = document.getElementById("satisfaction-chart");
  if (months) {
    new Chart(months, {
      type: "line",
      data: {
        labels: labels,
        datasets: [
          Object.assign({ label: data.labels.average, data: data.average, yAxisID: "y" }, partialLine("#0b69a3")),
          Object.assign({ label: data.labels.share, data: data.share, yAxisID: "share" }, partialLine("#c0392b"))
        ]
      },
      options: {
        animation: false, maintainAspectRatio: false,
        scales: {
          y: { min: 1, max: 5, title: { display: true, text: data.labels.average } },
          share: { min: 0, max: 100, position: "right", grid: { drawOnChartArea: false },
                   ticks: { callback: function (value) { return value + "%"; } },
                   title: { display: true, text: data.labels.share } }
        }
      }
    });
  }
  var groups = document.getElementById("satisfaction-groups-chart");
  if (groups && data.groups.length) {
    new Chart(groups, {
      type: "line",
      data: {
        labels: labels,
        datasets: data.groups.map(function (group, i) {
          return Object.assign({ label: group.label, data: group.average }, partialLine(palette[i % palette.length]));
        })
      },
      options: { animation: false, maintainAspectRatio: false, scales: { y: { min: 1, max: 5, title: { display: true, text: data.labels.average } } } }
    });
  }
  var scores = document.getElementById("satisfaction-scores-chart");
  if (scores) {
    new Chart(scores, {
      type: "bar",
      data: { labels: ["1", "2", "3", "4", "5"], datasets: [{ label: data.labels.results, data: data.distribution, backgroundColor: "#0b69a3" }] },
      options: { animation: false, maintainAspectRatio: false,
                 scales: { x: { title: { display: true, text: data.labels.score } }, y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }
});
