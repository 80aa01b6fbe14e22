// The dashboard's charts, drawn with ECharts from the page's own figures
// (data-chart): the children side by side (a bar opens that child's
// dashboard) and the daily trend.
(function () {
  "use strict";
  function draw() {
    if (!window.echarts) return;
    var kids = document.getElementById("children-chart");
    if (kids && !echarts.getInstanceByDom(kids)) {
      var d = JSON.parse(kids.getAttribute("data-chart"));
      var c = echarts.init(kids);
      c.setOption({
        animation: false,
        tooltip: { trigger: "axis" },
        legend: { data: ["受理", "办结"] },
        grid: { left: 40, right: 16, top: 32, bottom: 40 },
        xAxis: { type: "category", data: d.children.map(function (x) { return x.name; }) },
        yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: "受理", type: "bar", data: d.children.map(function (x) { return x.received; }) },
          { name: "办结", type: "bar", data: d.children.map(function (x) { return x.completed; }) }
        ]
      });
      c.on("click", function (p) {
        var child = d.children[p.dataIndex];
        if (child) window.location.href = child.url;
      });
    }
    var trend = document.getElementById("trend-chart");
    if (trend && !echarts.getInstanceByDom(trend)) {
      var t = JSON.parse(trend.getAttribute("data-chart"));
      echarts.init(trend).setOption({
        animation: false,
        tooltip: { trigger: "axis" },
        legend: { data: ["受理", "办结"] },
        grid: { left: 40, right: 16, top: 32, bottom: 40 },
        xAxis: { type: "category", data: t.days },
        yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: "受理", type: "line", data: t.received },
          { name: "办结", type: "line", data: t.completed }
        ]
      });
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    draw();
    var sel = document.querySelector("[data-scope-select]");
    if (sel) {
      sel.addEventListener("change", function () {
        var parts = sel.value.split(":");
        var f = sel.form;
        f.elements.scope_kind.value = parts[0];
        f.elements.scope_id.value = parts[1];
        f.submit();
      });
    }
  });
  window.addEventListener("resize", function () {
    ["children-chart", "trend-chart"].forEach(function (id) {
      var el = document.getElementById(id);
      var c = el && window.echarts && echarts.getInstanceByDom(el);
      if (c) c.resize();
    });
  });
})();
