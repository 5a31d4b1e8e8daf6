/* Shared helpers of the staff pages: JSON API calls with the session cookie and X-CSRF-Token,
   and plain-language errors from the API's {"error": {code, field, message}}. */
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
  function t(key) { return T[key] || key; }
  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)caseledger_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  class ApiError extends Error {
    constructor(status, code, field, message, messageZh) {
      super(message); this.status = status; this.code = code; this.field = field; this.messageZh = messageZh || "";
    }
  }
  /* One Idempotency-Key per form submission: kept while the same submission is retried (a lost answer is
     answered again, never stored twice), new after a success or when the form changes. */
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
    const err = body && body.error;
    if (err) return new ApiError(status, err.code || "other", err.field || null, err.message || "", err.message_zh);
    return new ApiError(status, status === 0 ? "network" : "other", null, status ? "HTTP " + status : "");
  }
  /* fetch with the cookie session; body: object (sent as JSON) or FormData; key: Idempotency-Key (POST) */
  async function api(method, url, body, key) {
    const headers = { "X-CSRF-Token": csrf(), "Accept": "application/json" };
    if (method === "POST") headers["Idempotency-Key"] = key || newKey();
    let payload = body;
    if (body && !(body instanceof FormData)) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
    let resp;
    try { resp = await fetch(url, { method: method, headers: headers, body: payload, credentials: "same-origin" }); }
    catch (e) { throw new ApiError(0, "network", null, String(e)); }
    const text = await resp.text();
    if (!resp.ok) throw toError(resp.status, text);
    return text ? JSON.parse(text) : null;
  }
  /* multipart upload with progress (fetch has no upload progress): onProgress(fraction) */
  function upload(url, form, onProgress, key) {
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
  const KNOWN = ["invalid_input", "not_found", "unauthenticated", "forbidden", "csrf_failed", "rate_limited", "chain_unavailable",
    "network", "storage_full", "store_damaged", "serial_check", "clock_skew", "case_held", "idempotency_conflict"];
  /* Show what went wrong and what to do in box; mark the named field (if it is on the page). */
  function showError(box, err, fieldLabel) {
    const code = KNOWN.indexOf(err.code) >= 0 ? err.code : "other";
    box.textContent = "";
    const head = document.createElement("strong");
    head.textContent = t("e_" + code) + (fieldLabel ? "：" + fieldLabel : "");
    box.appendChild(head);
    const detail = (window.LANG !== "en" && err.messageZh) ? err.messageZh : err.message;
    if (detail) { const p = document.createElement("span"); p.className = "detail"; p.textContent = detail; box.appendChild(p); }
    const todo = document.createElement("span");
    todo.textContent = " " + t("do_" + code);
    box.appendChild(todo);
    box.hidden = false;
    if (code === "unauthenticated") {
      const a = document.createElement("a");
      a.href = "/ui/login?next=" + encodeURIComponent(location.pathname);
      a.textContent = " → " + t("sign_in");
      box.appendChild(a);
    }
    box.focus && box.setAttribute("tabindex", "-1");
    box.focus();
  }
  function labelOf(field) {
    if (!field) return "";
    const id = field.replace(/^materials\./, "mat-");
    const el = document.getElementById(id) || document.querySelector('[name="' + field + '"]');
    if (!el) return field;
    const lab = document.querySelector('label[for="' + el.id + '"]');
    return lab ? lab.textContent.trim() : field;
  }
  const out = document.getElementById("sign-out");
  if (out) out.addEventListener("click", async function () {
    try { await api("POST", "/auth/logout"); } catch (e) { /* the session is gone either way */ }
    location.href = "/ui/login";
  });
  window.CL = { api: api, upload: upload, showError: showError, labelOf: labelOf, t: t, ApiError: ApiError,
    formKey: formKey, doneKey: doneKey, data: data };
})();
