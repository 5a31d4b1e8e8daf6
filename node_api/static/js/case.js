/* 办件详情: actions through the JSON API. Nothing is pre-selected; Enter in a text field never submits a
   decision; 受理 / 不予受理 / 办结 ask for confirmation; each fault is shown at its field in the staff's words. */
(function () {
  "use strict";
  const t = CL.t;
  const $ = function (id) { return document.getElementById(id); };
  const serial = $("case-serial").textContent.trim();
  const box = $("action-error"), ok = $("action-ok"), prog = $("action-progress");
  const hex = $("show-hex");
  if (hex) hex.addEventListener("change", function () {
    document.querySelectorAll("#timeline .hex").forEach(function (e) { e.hidden = !hex.checked; });
    document.querySelectorAll("#timeline .short").forEach(function (e) { e.hidden = hex.checked; });
    if (hex.checked) document.querySelectorAll("#timeline details.chain").forEach(function (d) { d.open = true; });
  });
  // inline preview of PDF / JPG / PNG (served by this node with frame-ancestors 'self')
  document.querySelectorAll(".preview-btn").forEach(function (b) {
    b.addEventListener("click", function () {
      const target = $(b.getAttribute("data-target"));
      if (!target.hidden) { target.hidden = true; target.textContent = ""; return; }
      const el = document.createElement(b.getAttribute("data-kind") === "pdf" ? "iframe" : "img");
      el.src = b.getAttribute("data-url");
      el.className = b.getAttribute("data-kind") === "pdf" ? "preview-frame" : "preview-img";
      if (el.tagName === "IMG") el.alt = b.parentElement.querySelector(".mono").textContent;
      else el.title = b.parentElement.querySelector(".mono").textContent;
      target.textContent = ""; target.appendChild(el); target.hidden = false;
    });
  });
  // reveal the applicant's details (logged in the access trail with its reason)
  const rf = $("reveal-form");
  if (rf) rf.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    $("reveal-error").hidden = true; CL.clearFieldErrors(rf);
    if (!$("reveal-reason").value) { $("reveal-reason-error").textContent = t("err_required"); $("reveal-reason").focus(); return; }
    try {
      const d = await CL.api("POST", "/cases/" + encodeURIComponent(serial) + "/reveal", { reason: $("reveal-reason").value });
      Object.keys(d).forEach(function (k) {
        document.querySelectorAll('#applicant-facts [data-field="' + k + '"]').forEach(function (el) {
          const inner = el.querySelector("[data-field]");
          el.textContent = d[k]; if (inner && d[inner.getAttribute("data-field")]) { el.appendChild(document.createTextNode(" " + d[inner.getAttribute("data-field")])); }
        });
      });
      $("do-reveal").disabled = true;
    } catch (err) { CL.showError($("reveal-error"), err); }
  });
  // Enter in a text field of an action form never submits it (a decision is taken with the button only)
  document.querySelectorAll("form.action input:not([type=radio]):not([type=checkbox]):not([type=file])").forEach(function (inp) {
    inp.addEventListener("keydown", function (ev) { if (ev.key === "Enter") ev.preventDefault(); });
  });
  const method = $("del-method");
  function showMethod() { $("tracking-field").hidden = method.value !== "post"; $("recipient-fields").hidden = method.value === "electronic"; }
  if (method) { method.addEventListener("change", showMethod); showMethod(); }

  // confirmation for 受理 / 不予受理 / 办结
  function confirmFirst(text) {
    const c = $("confirm");
    return new Promise(function (resolve) {
      $("confirm-text").textContent = text;
      c.hidden = false; $("confirm-no").focus();
      function done(v) { c.hidden = true; yes.removeEventListener("click", y); no.removeEventListener("click", n); resolve(v); }
      const yes = $("confirm-yes"), no = $("confirm-no");
      const y = function () { done(true); }, n = function () { done(false); };
      yes.addEventListener("click", y); no.addEventListener("click", n);
    });
  }
  function checked(form, name) { const el = form.querySelector("input[name=" + name + "]:checked"); return el ? el.value : ""; }
  function localFault(field, text) { return new CL.ApiError(422, "invalid_input", field, text, "required"); }

  document.querySelectorAll("form.action").forEach(function (form) {
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      box.hidden = true; ok.hidden = true; CL.clearFieldErrors(form);
      const action = form.dataset.action, url = "/cases/" + encodeURIComponent(serial) + "/" + action;
      let send;
      if (action === "acceptance") {
        const v = checked(form, "accepted"), reason = form.reason.value.trim();
        if (!v) { CL.showError(box, localFault("accepted", t("choose_decision"))); return; }
        if (v === "false" && !reason) { CL.showError(box, localFault("reason", t("err_reject_reason"))); $("reason").focus(); return; }
        if (!(await confirmFirst(t(v === "true" ? "confirm_accept" : "confirm_reject", { serial: serial })))) return;
        send = function () { return CL.api("POST", url, { accepted: v === "true", reason: reason }, key); };
      } else if (action === "supplement-request") {
        const mats = Array.from(form.querySelectorAll("input[name=materials]:checked")).map(function (i) { return i.value; });
        send = function () { return CL.api("POST", url, { materials: mats, note: form.note.value.trim() }, key); };
      } else if (action === "delivery") {
        const body = { method: method.value, note: form.note.value.trim(), tracking_number: $("tracking_number").value.trim() };
        if (method.value !== "electronic" && $("recipient_name").value.trim()) {
          body.recipient = { type: checked(form, "recipient_type") || "applicant", name: $("recipient_name").value.trim(), id_number: $("recipient_id_number").value.trim() };
        }
        send = function () { return CL.api("POST", url, body, key); };
      } else {
        const fd = new FormData();
        if (action === "result") {
          const v = checked(form, "approved");
          if (!v) { CL.showError(box, localFault("approved", t("choose_decision"))); return; }
          if (!(await confirmFirst(t(v === "true" ? "confirm_decide_approve" : "confirm_decide_deny")))) return;
          fd.append("approved", v);
          fd.append("note", form.note.value.trim());
        }
        form.querySelectorAll("input[type=file]").forEach(function (inp) { for (const f of inp.files) fd.append(inp.name, f, f.name); });
        send = function () { return CL.upload(url, fd, null, key); };
      }
      const buttons = form.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      prog.hidden = false;
      const key = CL.formKey(form);  // the same key if this submission is retried after a lost answer
      try {
        await send();
        CL.doneKey(form);
        ok.textContent = t("done"); ok.hidden = false;
        location.reload();
      } catch (err) {
        CL.showError(box, err);
      } finally {
        prog.hidden = true;
        buttons.forEach(function (b) { b.disabled = false; });
      }
    });
  });
  CL.ready();  // wired: the submit buttons may be used now
})();
