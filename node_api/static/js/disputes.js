/* 核验与争议处理: open a dispute, verify the case by serial (or from an uploaded bundle / document), resolve an
   open dispute with a picked report and a conclusion — each through the JSON API, each fault at its field in
   the staff's words; after a success the page reloads so what is shown is what the hall stored. */
(function () {
  "use strict";
  const t = CL.t;
  const $ = function (id) { return document.getElementById(id); };
  const serial = $("case-serial").textContent.trim();
  const base = "/cases/" + encodeURIComponent(serial);
  const box = $("dsp-error"), ok = $("dsp-ok"), prog = $("dsp-progress");
  function fault(field, text) { return new CL.ApiError(422, "invalid_input", field, text, "required"); }
  async function run(form, buttons, call, done) {
    box.hidden = true; ok.hidden = true; CL.clearFieldErrors(document);
    buttons.forEach(function (b) { b.disabled = true; });
    if (prog) prog.hidden = false;
    try {
      await call();
      if (form) CL.doneKey(form);
      ok.textContent = done; ok.hidden = false;
      location.reload();
    } catch (err) {
      CL.showError(box, err);
    } finally {
      if (prog) prog.hidden = true;
      buttons.forEach(function (b) { b.disabled = false; });
    }
  }
  const open = $("open-form");
  if (open) open.addEventListener("submit", function (ev) {
    ev.preventDefault();
    const who = open.querySelector("input[name=raised_by]:checked"), reason = open.reason.value.trim();
    CL.clearFieldErrors(open);
    if (!who) { CL.showError(box, fault("raised_by", t("dsp_err_raised_by"))); return; }
    if (!reason) { CL.showError(box, fault("reason", t("err_required"))); $("reason").focus(); return; }
    const key = CL.formKey(open);
    run(open, [$("do-open")], function () {
      return CL.api("POST", base + "/disputes", { reason: reason, raised_by: who.value }, key);
    }, t("dsp_opened_ok"));
  });
  const bySerial = $("verify-by-serial");
  if (bySerial) bySerial.addEventListener("click", function () {
    run(null, [bySerial], function () { return CL.api("POST", base + "/verifications/by-serial", null); }, t("dsp_checked_ok"));
  });
  const up = $("upload-form");
  if (up) up.addEventListener("submit", function (ev) {
    ev.preventDefault();
    const file = $("up-file").files[0];
    if (!file) { CL.showError(box, fault("up-file", t("err_required"))); return; }
    const kind = up.querySelector("input[name=kind]:checked").value;
    const fd = new FormData(); fd.append(kind, file, file.name);
    const key = CL.formKey(up);
    run(up, [$("do-upload")], function () { return CL.upload(base + "/verifications", fd, null, key); }, t("dsp_checked_ok"));
  });
  document.querySelectorAll("form.resolve-form").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      const index = form.dataset.index, pick = form.querySelector("input[name=report_sha256]:checked");
      const conclusion = form.conclusion.value.trim();
      if (!pick) { CL.showError(box, fault("report_sha256-" + index, t("dsp_err_pick"))); return; }
      if (!conclusion) { CL.showError(box, fault("conclusion-" + index, t("err_required"))); form.conclusion.focus(); return; }
      const key = CL.formKey(form);
      run(form, [form.querySelector("button")], function () {
        return CL.api("POST", base + "/disputes/" + index + "/resolution", { report_sha256: pick.value, conclusion: conclusion }, key)
          .catch(function (err) {  // the node names the field without the dispute's index: show it at this form's field
            if (err.field === "report_sha256" || err.field === "conclusion") err.field = err.field + "-" + index;
            throw err;
          });
      }, t("dsp_resolved_ok"));
    });
  });
  CL.ready();  // wired: the buttons may be used now
})();
