/* 全市监管: Apache ECharts charts (served by this node). The item chart is a horizontal bar chart, one row per
   item, so 20 items stay legible (the page sizes its height to the number of items). */
(function () {
  "use strict";
  const C = CL.data("cl-charts", {});
  const colors = { overdue: "#b42318", near_due: "#d4a72c", completed_late: "#e16f24", on_time: "#1a7f37", completed_on_time: "#2da44e", awaiting_acceptance: "#8c959f" };
  function chart(id) { const el = document.getElementById(id); return el && window.echarts ? echarts.init(el, null, { renderer: "svg" }) : null; }
  function bar(id, data) {
    const ch = chart(id); if (!ch) return;
    ch.setOption({ animation: false, grid: { left: 48, right: 16, top: 16, bottom: 72 }, tooltip: {},
      xAxis: { type: "category", data: data.map(function (d) { return d.name; }), axisLabel: { interval: 0, rotate: data.length > 3 ? 25 : 0 } },
      yAxis: { type: "value", minInterval: 1 }, series: [{ type: "bar", data: data.map(function (d) { return d.value; }), itemStyle: { color: "#0b5cad" }, label: { show: true, position: "top" } }] });
  }
  function hbar(id, data) {
    const ch = chart(id); if (!ch) return;
    const rows = data.slice().reverse();  // largest at the top
    ch.setOption({ animation: false, grid: { left: 8, right: 48, top: 8, bottom: 24, containLabel: true }, tooltip: {},
      yAxis: { type: "category", data: rows.map(function (d) { return d.name; }), axisLabel: { interval: 0 } },
      xAxis: { type: "value", minInterval: 1 }, series: [{ type: "bar", barMaxWidth: 18, data: rows.map(function (d) { return d.value; }), itemStyle: { color: "#0b5cad" }, label: { show: true, position: "right" } }] });
  }
  function pie(id, data) {
    const ch = chart(id); if (!ch) return;
    ch.setOption({ animation: false, tooltip: {}, legend: { bottom: 0, type: "scroll" },
      series: [{ type: "pie", radius: ["35%", "62%"], label: { formatter: "{b}: {c}" },
        data: data.map(function (d) { return { name: d.name, value: d.value, itemStyle: d.key && colors[d.key] ? { color: colors[d.key] } : undefined }; }) }] });
  }
  bar("cw-chart-hall", C.hall || []);
  bar("cw-chart-district", C.district || []);
  bar("cw-chart-stage", C.stage || []);
  pie("cw-chart-compliance", C.compliance || []);
  hbar("cw-chart-item", C.item || []);
})();
