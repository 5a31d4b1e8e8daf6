/* 账号管理: create an account (roles within the separation of duties), disable / enable, change roles, reset the
   second factor; a new TOTP secret is shown once with its QR code (an SVG made by the node). */
(function () {
  "use strict";
  const t = CL.t, $ = function (id) { return document.getElementById(id); };
  const box = $("adm-error"), ok = $("adm-ok");
  function enrol(answer) {
    if (!answer || !answer.totp_secret) { location.reload(); return; }
    // the node's SVG (segno), parsed as HTML so the element is in the SVG namespace; no script can be in it
    const svg = new DOMParser().parseFromString(answer.totp_qr_svg || "", "text/html").body.querySelector("svg");
    const qr = $("enrol-qr"); qr.textContent = "";
    if (svg) { svg.querySelectorAll("script").forEach(function (x) { x.remove(); }); qr.appendChild(document.importNode(svg, true)); }
    $("enrol-secret").textContent = answer.totp_secret;
    $("h-enrol").textContent = t("adm_enrol") + "：" + answer.account.username;
    $("enrol").hidden = false; $("enrol").focus();
  }
  $("enrol-done").addEventListener("click", function () { location.reload(); });
  function roles(form) { return Array.from(form.querySelectorAll("input[name=roles]:checked")).map(function (i) { return i.value; }); }
  const create = $("create-form");
  create.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    box.hidden = true; ok.hidden = true; CL.clearFieldErrors(document);
    const body = { username: $("username").value.trim(), display_name: $("display_name").value.trim(), password: $("password").value, roles: roles(create) };
    const fault = function (field, text) { return new CL.ApiError(422, "invalid_input", field, text, "required"); };
    if (!body.username) { CL.showError(box, fault("username", t("err_required"))); return; }
    if (!body.password) { CL.showError(box, fault("password", t("err_required"))); return; }
    if (!body.roles.length) { CL.showError(box, fault("roles", t("adm_err_roles"))); return; }
    const b = $("do-create"); b.disabled = true;
    try {
      const answer = await CL.api("POST", "/admin/accounts", body, CL.formKey(create));
      CL.doneKey(create);
      ok.textContent = t("adm_created", { user: answer.account.username }); ok.hidden = false;
      enrol(answer);
    } catch (err) { CL.showError(box, err); }
    finally { b.disabled = false; }
  });
  document.querySelectorAll("button.acct-act").forEach(function (b) {
    b.addEventListener("click", async function () {
      box.hidden = true;
      const user = b.dataset.user, act = b.dataset.act;
      if (act === "reset-totp" && !window.confirm(t("adm_confirm_reset", { user: user }))) return;
      try {
        const answer = await CL.api("POST", "/admin/accounts/" + encodeURIComponent(user) + "/" + act, null);
        if (act === "reset-totp") enrol(answer); else location.reload();
      } catch (err) { CL.showError(box, err); }
    });
  });
  document.querySelectorAll("form.roles-form").forEach(function (form) {
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      box.hidden = true;
      try {
        const answer = await CL.api("POST", "/admin/accounts/" + encodeURIComponent(form.dataset.user) + "/roles", { roles: roles(form) });
        enrol(answer);
      } catch (err) {
        if (err.field === "roles") err.field = "roles-" + form.dataset.user;
        CL.showError(box, err);
      }
    });
  });
  CL.ready();
})();
