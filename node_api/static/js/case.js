/* 办件详情: actions (accept / reject / supplement request / decide / supplement / deliver) through the JSON API. */
(function () {
  "use strict";
  const t = CL.t;
  const serial = document.getElementById("case-serial").textContent.trim();
  const box = document.getElementById("action-error"), ok = document.getElementById("action-ok");
  const prog = document.getElementById("action-progress");
  const hex = document.getElementById("show-hex");
  if (hex) hex.addEventListener("change", function () {
    document.querySelectorAll("#timeline .hex").forEach(function (e) { e.hidden = !hex.checked; });
    document.querySelectorAll("#timeline .short").forEach(function (e) { e.hidden = hex.checked; });
    if (hex.checked) document.querySelectorAll("#timeline details.chain").forEach(function (d) { d.open = true; });
  });
  document.querySelectorAll("form.action").forEach(function (form) {
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      box.hidden = true; ok.hidden = true;
      const action = form.dataset.action, url = "/cases/" + encodeURIComponent(serial) + "/" + action;
      const buttons = form.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      prog.hidden = false;
      const key = CL.formKey(form);
      try {
        if (action === "acceptance") {
          const accepted = ev.submitter ? ev.submitter.value === "true" : true;
          await CL.api("POST", url, { accepted: accepted, reason: form.reason.value.trim() }, key);
        } else if (action === "supplement-request") {
          const mats = Array.from(form.querySelectorAll("input[name=materials]:checked")).map(function (i) { return i.value; });
          await CL.api("POST", url, { materials: mats, note: form.note.value.trim() }, key);
        } else if (action === "delivery") {
          await CL.api("POST", url, { method: form.method.value, note: form.note.value.trim() }, key);
        } else {
          // multipart: result (approved, note, document) or supplement (materials.<code>)
          const fd = new FormData();
          if (action === "result") {
            fd.append("approved", form.querySelector("input[name=approved]:checked").value);
            fd.append("note", form.note.value.trim());
          }
          form.querySelectorAll("input[type=file]").forEach(function (inp) {
            for (const f of inp.files) fd.append(inp.name, f, f.name);
          });
          await CL.upload(url, fd, null, key);
        }
        CL.doneKey(form);
        ok.textContent = t("done"); ok.hidden = false;
        location.reload();
      } catch (err) {
        CL.showError(box, err, CL.labelOf(err.field));
      } finally {
        prog.hidden = true;
        buttons.forEach(function (b) { b.disabled = false; });
      }
    });
  });
})();
