(function () {
  "use strict";
  const form = document.getElementById("login-form");
  const box = document.getElementById("login-error");
  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    box.hidden = true;
    const body = { username: form.username.value.trim(), password: form.password.value };
    if (form.totp.value.trim()) body.totp = form.totp.value.trim();
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      await CL.api("POST", "/auth/login", body);
      let next = form.dataset.next || "/";
      try { if (new URL(next, location.origin).origin !== location.origin) next = "/"; } catch (e) { next = "/"; }
      if (location.pathname === "/ui/login") location.href = next; else location.reload();
    } catch (err) {
      if (err.messageCode && err.messageCode.indexOf("totp") === 0) form.totp.focus();
      CL.showError(box, err);
    } finally { btn.disabled = false; }
  });
  CL.ready();  // wired: the submit buttons may be used now
})();
