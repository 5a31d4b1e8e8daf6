/* 修改密码: the staff member's own password, through POST /auth/password; each fault at its field. */
(function () {
  "use strict";
  const t = CL.t, $ = function (id) { return document.getElementById(id); };
  const form = $("password-form"), box = $("pw-error"), ok = $("pw-ok");
  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    box.hidden = true; ok.hidden = true; CL.clearFieldErrors(form);
    const cur = $("current_password").value, nw = $("new_password").value, again = $("new_password2").value;
    const fault = function (field, text) { return new CL.ApiError(422, "invalid_input", field, text, "required"); };
    if (!cur) { CL.showError(box, fault("current_password", t("err_required"))); return; }
    if (!nw) { CL.showError(box, fault("new_password", t("err_required"))); return; }
    if (nw !== again) { CL.showError(box, fault("new_password2", t("pw_mismatch"))); return; }
    const b = $("do-password"); b.disabled = true;
    try {
      await CL.api("POST", "/auth/password", { current_password: cur, new_password: nw }, CL.formKey(form));
      CL.doneKey(form); form.reset(); ok.hidden = false;
    } catch (err) { CL.showError(box, err); }
    finally { b.disabled = false; }
  });
  CL.ready();
})();
