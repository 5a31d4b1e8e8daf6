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
      const next = form.dataset.next || "/";
      location.href = location.pathname === "/ui/login" ? next : location.pathname + location.search;
    } catch (err) {
      if (err.code === "unauthenticated" && /TOTP|one-time/i.test(err.message)) form.totp.focus();
      CL.showError(box, err);
    } finally { btn.disabled = false; }
  });
})();
