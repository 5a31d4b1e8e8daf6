/* 监管: Apache ECharts charts (served by this node) and the on-demand anomaly scan. */
(function () {
  "use strict";
  const C = CL.data("cl-charts", {});
  const colors = { overdue: "#b42318", near_due: "#d4a72c", completed_late: "#e16f24", on_time: "#1a7f37", completed_on_time: "#2da44e" };
  function bar(id, data) {
    const el = document.getElementById(id); if (!el || !window.echarts) return;
    const ch = echarts.init(el, null, { renderer: "svg" });
    ch.setOption({ animation: false, grid: { left: 48, right: 16, top: 16, bottom: 64 }, tooltip: {},
      xAxis: { type: "category", data: data.map(function (d) { return d.name; }), axisLabel: { interval: 0, rotate: data.length > 4 ? 30 : 0 } },
      yAxis: { type: "value", minInterval: 1 }, series: [{ type: "bar", data: data.map(function (d) { return d.value; }), itemStyle: { color: "#0b5cad" } }] });
  }
  function pie(id, data) {
    const el = document.getElementById(id); if (!el || !window.echarts) return;
    const ch = echarts.init(el, null, { renderer: "svg" });
    ch.setOption({ animation: false, tooltip: {}, legend: { bottom: 0 },
      series: [{ type: "pie", radius: ["35%", "65%"], label: { formatter: "{b}: {c}" },
        data: data.map(function (d) { return { name: d.name, value: d.value, itemStyle: d.key && colors[d.key] ? { color: colors[d.key] } : undefined }; }) }] });
  }
  bar("chart-district", C.district || []);
  bar("chart-item", C.item || []);
  pie("chart-status", C.status || []);
  pie("chart-compliance", C.compliance || []);
  const btn = document.getElementById("scan-now");
  if (btn) btn.addEventListener("click", async function () {
    btn.disabled = true;
    try { await CL.api("POST", "/audit/anomalies/scan"); location.reload(); }
    catch (err) { CL.showError(document.getElementById("audit-error"), err); }
    finally { btn.disabled = false; }
  });
})();
