/* The applicant's look-up: serial + look-up code → item, status and the date of each step (no personal data). */
(function () {
  "use strict";
  const t = CL.t, $ = function (id) { return document.getElementById(id); };
  $("lookup-form").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    $("lookup-error").hidden = true; $("lookup-result").hidden = true; CL.clearFieldErrors($("lookup-form"));
    try {
      const r = await CL.api("POST", "/lookup", { serial: $("serial").value.trim(), code: $("code").value.trim() });
      $("lk-item").textContent = CL.zh ? r.item_name_zh : r.item_name_en;
      $("lk-status").textContent = t("st_" + r.status);
      const ol = $("lk-steps"); ol.textContent = "";
      r.steps.forEach(function (s) { const li = document.createElement("li"); li.textContent = (CL.zh ? s.stage_zh : s.stage) + " · " + s.on; ol.appendChild(li); });
      $("lookup-result").hidden = false;
    } catch (err) { CL.showError($("lookup-error"), err); }
  });
  CL.ready();  // wired: the submit buttons may be used now
})();
