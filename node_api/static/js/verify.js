/* 核验: upload a bundle or one document → per-event verdict (green/red) with reasons, printable report link. */
(function () {
  "use strict";
  const t = CL.t, R = CL.data("cl-reasons", {}), S = CL.data("cl-stages", {});
  const stage = function (s) { return S[s] || s || ""; };
  const form = document.getElementById("verify-form"), box = document.getElementById("verify-error");
  const out = document.getElementById("verify-result"), prog = document.getElementById("v-progress");
  function reasons(list) {
    return (list || []).map(function (r) { return (R[r.code] || r.code) + (r.detail ? "（" + r.detail + "）" : ""); }).join("；");
  }
  function when(ts) { return ts ? new Date(ts * 1000).toLocaleString(window.LANG === "en" ? "en-GB" : "zh-CN", { hour12: false }) : "—"; }
  function row(tbody, cells, status) {
    const tr = document.createElement("tr"); tr.className = "v-" + status;
    cells.forEach(function (c) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); });
    tbody.appendChild(tr);
  }
  const word = function (s) { return s === "match" ? "✔ " + t("ok") : s === "missing" ? "✖ " + t("missing") : "✖ " + t("bad"); };
  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    box.hidden = true; out.hidden = true;
    const serial = form.serial.value.trim(), file = form.file.files[0];
    document.getElementById("v-serial-error").textContent = serial ? "" : t("err_required");
    document.getElementById("v-file-error").textContent = file ? "" : t("err_required");
    if (!serial) { form.serial.focus(); return; }
    if (!file) { form.file.focus(); return; }
    const kind = form.querySelector("input[name=kind]:checked").value;
    const fd = new FormData(); fd.append(kind, file, file.name);
    prog.hidden = false;
    try {
      const c = await CL.upload("/cases/" + encodeURIComponent(serial) + "/verifications", fd, null, CL.formKey(form));
      CL.doneKey(form);
      const tbody = out.querySelector("tbody"); tbody.textContent = "";
      const h = document.getElementById("verdict");
      h.textContent = c.verdict === "match" ? "✔ " + t("verdict_match") : c.verdict === "incomplete" ? "✖ " + t("verdict_incomplete") : "✖ " + t("verdict_mismatch");
      h.className = c.verdict === "match" ? "ok-box" : "error-box";
      const rep = c.report;
      if (c.kind === "bundle") {
        // findings (anchored long after the claimed time) do not change the verdict but are said plainly
        if (rep.events.some(function (e) { return (e.findings || []).length; })) { h.textContent += " " + t("late_note"); }
        (rep.reasons || []).forEach(function (r) { h.textContent += " " + reasons([r]); });
        rep.events.forEach(function (e) { row(tbody, [String(e.index), stage(e.stage), word(e.status), reasons((e.reasons || []).concat(e.findings || [])), e.block != null ? String(e.block) : "—", when(e.time)], e.status); });
        (rep.materials || []).forEach(function (m) { row(tbody, ["#" + m.event_index, m.kind + " · " + m.name, word(m.status), reasons(m.reasons), "", ""], m.status); });
      } else {
        row(tbody, [rep.event_index != null ? String(rep.event_index) : "—", stage(rep.stage) + " · " + rep.file_name, word(rep.status), reasons(rep.reasons), rep.block != null ? String(rep.block) : "—", when(rep.time)], rep.status);
        // a pre-补正 file matches what was committed then, but a supplement replaced it since: say so
        if (rep.superseded_by != null) { h.textContent += " " + t("superseded_note", { index: rep.superseded_by }); }
      }
      document.getElementById("report-link").href = "/cases/" + encodeURIComponent(serial) + "/verifications/" + c.sha256 + "/report.html?lang=" + (window.LANG === "en" ? "en" : "zh");
      out.hidden = false; out.focus();
    } catch (err) {
      CL.showError(box, err, CL.labelOf(err.field));
    } finally { prog.hidden = true; }
  });
  CL.ready();  // wired: the submit buttons may be used now
})();
