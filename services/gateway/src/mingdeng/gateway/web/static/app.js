// Charts from the data in the page (ECharts, served locally), and live regions: an element with
// data-live (an SSE URL, GET /v1/stream for the viewer) and data-refresh (the same page as a
// fragment) is redrawn from the server whenever an index changes, without a reload.
(function () {
  "use strict";
  function drawCharts(root) {
    if (!window.echarts) return;
    root.querySelectorAll("[data-chart]").forEach(function (element) {
      var chart = echarts.getInstanceByDom(element) || echarts.init(element);
      chart.setOption(JSON.parse(element.getAttribute("data-chart")));
    });
  }
  function beLive(region) {
    var pending = null;
    function refresh() {
      pending = null;
      fetch(region.getAttribute("data-refresh"), { credentials: "same-origin" })
        .then(function (answer) { if (!answer.ok) throw new Error(answer.status); return answer.text(); })
        .then(function (html) {
          var before = {};
          region.querySelectorAll("[data-id] .index").forEach(function (cell) {
            before[cell.parentElement.getAttribute("data-id")] = cell.textContent;
          });
          region.innerHTML = html;
          region.querySelectorAll("[data-id] .index").forEach(function (cell) {
            var id = cell.parentElement.getAttribute("data-id");
            if (before[id] !== undefined && before[id] !== cell.textContent) cell.parentElement.classList.add("flash");
          });
          region.setAttribute("data-version", String(Number(region.getAttribute("data-version") || 0) + 1));
          drawCharts(region);
        })
        .catch(function () { /* the next change tries again; the page keeps what it shows */ });
    }
    var source = new EventSource(region.getAttribute("data-live"));
    source.addEventListener("score", function () {
      if (pending === null) pending = setTimeout(refresh, 500); // a burst of changes, one redraw
    });
    source.addEventListener("open", function () { region.setAttribute("data-connected", "yes"); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
    document.querySelectorAll("[data-live]").forEach(beLive);
    window.addEventListener("resize", function () {
      document.querySelectorAll("[data-chart]").forEach(function (element) {
        var chart = window.echarts && echarts.getInstanceByDom(element);
        if (chart) chart.resize();
      });
    });
  });
})();
