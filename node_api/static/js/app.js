/* Shared helpers of the staff pages: JSON API calls with the session cookie and X-CSRF-Token, the staff
   sentence of every API error (error.message_zh / error.message, never developer text), each fault shown at
   its field, and sign-in again in place when the session ends mid-form (the form and chosen files stay). */
(function () {
  "use strict";
  /* page data comes in <script type="application/json" id=...> blocks, never run as code (CSP: script-src 'self') */
  function data(id, fallback) {
    const el = document.getElementById(id);
    if (!el) return fallback;
    try { return JSON.parse(el.textContent); } catch (e) { return fallback; }
  }
  const T = data("cl-i18n", {});
  window.LANG = document.documentElement.getAttribute("data-lang") || "zh";
  const ZH = window.LANG !== "en";
  function t(key, params) {
    let s = T[key] || key;
    if (params) Object.keys(params).forEach(function (k) { s = s.split("{" + k + "}").join(String(params[k])); });
    return s;
  }
  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)caseledger_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  /* one API error: kind (code), catalogue entry (messageCode), field, the staff sentence in this page's
     language (text), and each fault when there are several (problems) */
  class ApiError extends Error {
    constructor(status, code, field, text, messageCode, problems) {
      super(text);
      this.status = status; this.code = code; this.field = field; this.text = text;
      this.messageCode = messageCode || code; this.problems = problems || [];
    }
  }
  function fromBody(status, e) {
    const text = (ZH ? e.message_zh : e.message) || e.message || "";
    const problems = (e.problems || []).map(function (p) { return fromBody(status, p); });
    return new ApiError(status, e.code || "other", e.field || null, text, e.message_code, problems);
  }
  /* One Idempotency-Key per form submission: kept while the same submission is retried (a lost answer is
     answered again, never stored twice; the retry after signing in again in place too), new after a success
     or when the form changes. */
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = new Uint8Array(16); crypto.getRandomValues(b);
    return Array.from(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
  }
  function formKey(form) {
    if (!form) return newKey();
    if (!form.dataset.idemKey) {
      form.dataset.idemKey = newKey();
      const reset = function () { delete form.dataset.idemKey; };
      form.addEventListener("input", reset, { once: true });
      form.addEventListener("change", reset, { once: true });
    }
    return form.dataset.idemKey;
  }
  function doneKey(form) { if (form) delete form.dataset.idemKey; }
  function toError(status, text) {
    let body = null;
    try { body = JSON.parse(text); } catch (e) { body = null; }
    if (body && body.error) return fromBody(status, body.error);
    /* no sentence from the node (a proxy, a dropped connection): say it plainly, no HTTP jargon */
    return new ApiError(status, status === 0 ? "network" : "other", null, "");
  }
  async function rawApi(method, url, body, key) {
    const headers = { "X-CSRF-Token": csrf(), "Accept": "application/json" };
    if (method === "POST") headers["Idempotency-Key"] = key || newKey();
    let payload = body;
    if (body && !(body instanceof FormData)) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
    let resp;
    try { resp = await fetch(url, { method: method, headers: headers, body: payload, credentials: "same-origin" }); }
    catch (e) { throw new ApiError(0, "network", null, ""); }
    const text = await resp.text();
    if (!resp.ok) throw toError(resp.status, text);
    return text ? JSON.parse(text) : null;
  }
  function rawUpload(url, form, onProgress, key) {
    return new Promise(function (resolve, reject) {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.setRequestHeader("Idempotency-Key", key || newKey());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = function (ev) { if (ev.lengthComputable && onProgress) onProgress(ev.loaded / ev.total); };
      xhr.onload = function () {
        if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.responseText ? JSON.parse(xhr.responseText) : null);
        else reject(toError(xhr.status, xhr.responseText));
      };
      xhr.onerror = function () { reject(new ApiError(0, "network", null, "")); };
      xhr.send(form);
    });
  }

  /* ---- sign in again in place: the dialog asks for the password (and the one-time code), then the same
     request is sent once more; nothing on the page is reloaded, so typed fields and chosen files stay */
  let pending = null;
  function reauth() {
    if (pending) return pending;
    const dlg = document.getElementById("reauth");
    const username = document.body.getAttribute("data-username");
    if (!dlg || !username || typeof dlg.showModal !== "function") return Promise.resolve(false);
    const form = document.getElementById("reauth-form"), pw = document.getElementById("reauth-password");
    const totp = document.getElementById("reauth-totp"), err = document.getElementById("reauth-error");
    document.getElementById("reauth-totp-field").hidden = document.body.getAttribute("data-totp") !== "yes";
    pw.value = ""; totp.value = ""; err.textContent = "";
    pending = new Promise(function (resolve) {
      function done(ok) {
        form.removeEventListener("submit", submit); cancel.removeEventListener("click", stop);
        if (dlg.open) dlg.close();
        pending = null; resolve(ok);
      }
      async function submit(ev) {
        ev.preventDefault();
        const body = { username: username, password: pw.value };
        if (totp.value.trim()) body.totp = totp.value.trim();
        try { await rawApi("POST", "/auth/login", body); done(true); }
        catch (e) { err.textContent = e.text || t("e_" + e.code); (e.messageCode && e.messageCode.indexOf("totp") === 0 ? totp : pw).focus(); }
      }
      function stop() { done(false); }
      const cancel = document.getElementById("reauth-cancel");
      form.addEventListener("submit", submit); cancel.addEventListener("click", stop);
      dlg.showModal(); pw.focus();
    });
    return pending;
  }
  async function again(call) {
    try { return await call(); }
    catch (err) {
      if (err.status === 401 && err.code === "unauthenticated" && await reauth()) return await call();
      throw err;
    }
  }
  /* body: object (sent as JSON) or FormData; key: the submission's Idempotency-Key (POST), kept for the retry */
  function api(method, url, body, key) {
    const k = method === "POST" ? (key || newKey()) : undefined;
    return again(function () { return rawApi(method, url, body, k); });
  }
  /* multipart upload with progress (fetch has no upload progress): onProgress(fraction) */
  function upload(url, form, onProgress, key) {
    const k = key || newKey();
    return again(function () { return rawUpload(url, form, onProgress, k); });
  }

  /* ---- showing errors */
  const KINDS = ["invalid_input", "not_found", "conflict", "unauthenticated", "forbidden", "csrf_failed", "rate_limited",
    "chain_unavailable", "network", "storage_full", "store_damaged", "serial_check", "clock_skew", "case_held",
    "idempotency_conflict"];
  function fieldSlot(field) {
    if (!field) return null;
    const id = field.replace(/^materials\./, "mat-");
    return document.getElementById(id + "-error") || document.getElementById(field + "-error");
  }
  /* put one fault's sentence next to its field (or material row); false when the field is not on this page */
  function showAt(err) {
    const slot = fieldSlot(err.field);
    if (!slot) return false;
    slot.textContent = err.text;
    const input = document.getElementById(err.field.replace(/^materials\./, "mat-")) || document.getElementById(err.field);
    if (input) input.setAttribute("aria-invalid", "true");
    const row = slot.closest("li"); if (row) row.classList.add("has-error");
    return true;
  }
  function clearFieldErrors(root) {
    (root || document).querySelectorAll(".field-error").forEach(function (e) { if (e.id !== "reauth-error") e.textContent = ""; });
    (root || document).querySelectorAll("[aria-invalid]").forEach(function (e) { e.removeAttribute("aria-invalid"); });
    (root || document).querySelectorAll("li.has-error").forEach(function (e) { e.classList.remove("has-error"); });
  }
  /* the heading for the kind, every fault at its field, those without a field listed in box, what to do */
  function showError(box, err) {
    const code = KINDS.indexOf(err.code) >= 0 ? err.code : "other";
    const faults = err.problems.length ? err.problems : [err];
    box.textContent = "";
    const head = document.createElement("strong");
    head.textContent = err.problems.length ? t("e_several") : t("e_" + code);
    box.appendChild(head);
    const list = document.createElement("ul");
    faults.forEach(function (f) {
      const placed = showAt(f);
      if (f.text) {
        const li = document.createElement("li"); li.className = "detail";
        li.textContent = f.text; li.setAttribute("data-field", f.field || "");
        if (placed) li.classList.add("also-at-field");
        list.appendChild(li);
      }
    });
    if (list.children.length) box.appendChild(list);
    const todo = document.createElement("span");
    todo.textContent = t("do_" + code);
    box.appendChild(todo);
    box.hidden = false;
    box.setAttribute("tabindex", "-1");
    box.focus();
  }
  function labelOf(field) {
    if (!field) return "";
    const el = document.getElementById(field.replace(/^materials\./, "mat-")) || document.querySelector('[name="' + field + '"]');
    const lab = el && document.querySelector('label[for="' + el.id + '"]');
    return lab ? lab.textContent.trim() : "";
  }
  const out = document.getElementById("sign-out");
  if (out) out.addEventListener("click", async function () {
    try { await rawApi("POST", "/auth/logout"); } catch (e) { /* the session is gone either way */ }
    location.href = "/ui/login";
  });
  /* A page's submit buttons come disabled (data-needs-js) until its script has attached its handlers: a
     click before that (a slow PC, a busy hall node) would submit the form natively — a reload that does
     nothing and loses what was typed. Each page script calls CL.ready() when it is wired. */
  function ready(root) {
    (root || document).querySelectorAll("[data-needs-js]").forEach(function (b) {
      b.disabled = false; b.removeAttribute("data-needs-js");
    });
  }
  window.CL = {
    api: api, upload: upload, showError: showError, showAt: showAt, clearFieldErrors: clearFieldErrors,
    labelOf: labelOf, t: t, ApiError: ApiError, data: data, zh: ZH, formKey: formKey, doneKey: doneKey,
    ready: ready,
  };
})();
