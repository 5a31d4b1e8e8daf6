/* 受理: item picker with search, inline validation (ID checksum, phone), materials ticked off as files
   are chosen, upload progress, printable receipt. */
(function () {
  "use strict";
  const t = CL.t, zh = window.LANG !== "en";
  const items = CL.data("cl-items", []);
  const form = document.getElementById("intake-form");
  const search = document.getElementById("item-search");
  const select = document.getElementById("item_code");
  const info = document.getElementById("item-info");
  const list = document.getElementById("materials");
  const box = document.getElementById("intake-error");
  const name = function (o) { return zh ? o.name_zh : o.name_en; };

  function fillItems() {
    const q = search.value.trim().toLowerCase();
    const keep = select.value;
    select.textContent = "";
    const shown = items.filter(function (i) {
      return !q || i.code.toLowerCase().indexOf(q) >= 0 || i.name_zh.indexOf(q) >= 0 || i.name_en.toLowerCase().indexOf(q) >= 0;
    });
    shown.forEach(function (i) {
      const o = document.createElement("option");
      o.value = i.code; o.textContent = name(i) + "（" + i.code + "）";
      if (i.code === keep) o.selected = true;
      select.appendChild(o);
    });
    if (!shown.length) { const o = document.createElement("option"); o.disabled = true; o.textContent = t("no_items"); select.appendChild(o); }
    if (shown.length === 1 && !select.value) { select.value = shown[0].code; showItem(); }
  }
  function current() { return items.find(function (i) { return i.code === select.value; }); }
  function showItem() {
    const it = current();
    list.textContent = "";
    if (!it) { info.textContent = ""; return; }
    info.textContent = t("time_limit") + "：" + it.days + " " + t("working_days");
    setError("item_code", "");
    it.materials.forEach(function (m) {
      const li = document.createElement("li");
      li.id = "li-" + m.code;
      const tick = document.createElement("span"); tick.className = "tick"; tick.setAttribute("aria-hidden", "true"); tick.textContent = "☐";
      const lab = document.createElement("label"); lab.htmlFor = "mat-" + m.code; lab.textContent = name(m);
      const state = document.createElement("span"); state.className = "sr-only"; state.id = "st-" + m.code; state.textContent = t("material_missing");
      lab.appendChild(document.createTextNode(" ")); lab.appendChild(state);
      const inp = document.createElement("input"); inp.type = "file"; inp.id = "mat-" + m.code; inp.name = "materials." + m.code;
      inp.accept = ".pdf,.jpg,.jpeg,.png,.ofd,application/pdf,image/jpeg,image/png";
      inp.addEventListener("change", function () {
        const has = inp.files && inp.files.length > 0;
        li.classList.toggle("has-file", has);
        tick.textContent = has ? "☑" : "☐";
        state.textContent = has ? t("material_received") : t("material_missing");
      });
      li.appendChild(tick); li.appendChild(lab); li.appendChild(inp);
      list.appendChild(li);
    });
  }
  search.addEventListener("input", fillItems);
  search.addEventListener("keydown", function (ev) { if (ev.key === "ArrowDown") { ev.preventDefault(); select.focus(); } });
  select.addEventListener("change", showItem);

  // ---- validation
  // The server's rule is ledger.hall.idnumber.id_check_character (ISO 7064 MOD 11-2); this mirrors it for
  // the inline hint only: the server checks every ID number again.
  const W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  function idValid(v) {
    if (!/^\d{17}[\dX]$/.test(v)) return false;
    let s = 0;
    for (let i = 0; i < 17; i++) s += parseInt(v[i], 10) * W[i];
    return "10X98765432"[s % 11] === v[17];
  }
  function setError(field, msg) {
    const el = document.getElementById(field), err = document.getElementById(field + "-error");
    if (err) err.textContent = msg;
    if (el) { if (msg) el.setAttribute("aria-invalid", "true"); else el.removeAttribute("aria-invalid"); }
    return !msg;
  }
  const checks = {
    item_code: function (v) { return v ? "" : t("err_required"); },
    home_district: function (v) { return v ? "" : t("err_required"); },
    applicant_name: function (v) { return v.trim() ? "" : t("err_required"); },
    applicant_id_number: function (v) { return !v ? t("err_required") : idValid(v.toUpperCase()) ? "" : t("err_id"); },
    applicant_phone: function (v) { return !v ? t("err_required") : /^1\d{10}$/.test(v) ? "" : t("err_phone"); },
  };
  Object.keys(checks).forEach(function (f) {
    const el = document.getElementById(f);
    el.addEventListener("blur", function () { setError(f, checks[f](el.value.trim())); });
    el.addEventListener("input", function () { if (el.getAttribute("aria-invalid")) setError(f, checks[f](el.value.trim())); });
  });
  function validate() {
    let first = null;
    Object.keys(checks).forEach(function (f) {
      const el = document.getElementById(f);
      if (!setError(f, checks[f](el.value.trim())) && !first) first = el;
    });
    return first;
  }

  // ---- submit with progress, then the receipt
  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    box.hidden = true;
    const bad = validate();
    if (bad) { box.textContent = t("fix_fields"); box.hidden = false; bad.focus(); return; }
    const fd = new FormData();
    ["item_code", "home_district", "applicant_name", "applicant_id_number", "applicant_phone", "applicant_address"].forEach(function (f) {
      let v = document.getElementById(f).value.trim();
      if (f === "applicant_id_number") v = v.toUpperCase();
      fd.append(f, v);
    });
    list.querySelectorAll("input[type=file]").forEach(function (inp) {
      for (const f of inp.files) fd.append(inp.name, f, f.name);
    });
    const wrap = document.getElementById("progress-wrap"), bar = document.getElementById("progress"), txt = document.getElementById("progress-text");
    const btn = document.getElementById("submit-intake");
    wrap.hidden = false; btn.disabled = true;
    try {
      const key = CL.formKey(form);  // the same key if this submission is retried after a lost answer
      const c = await CL.upload("/cases", fd, function (p) { bar.value = Math.round(p * 100); txt.textContent = Math.round(p * 100) + "%"; }, key);
      CL.doneKey(form);
      bar.value = 100; txt.textContent = "100%";
      receipt(c, fd);
    } catch (err) {
      if (err.field && document.getElementById(err.field.replace(/^materials\./, "mat-"))) {
        if (checks[err.field]) setError(err.field, err.message);
      }
      CL.showError(box, err, CL.labelOf(err.field));
    } finally { btn.disabled = false; }
  });
  function receipt(c, fd) {
    const it = current();
    document.getElementById("r-serial").textContent = c.serial;
    document.getElementById("r-item").textContent = name(it) + "（" + it.code + "）";
    const ds = document.getElementById("home_district");
    document.getElementById("r-district").textContent = ds.options[ds.selectedIndex].textContent;
    document.getElementById("r-name").textContent = fd.get("applicant_name");
    document.getElementById("r-time").textContent = new Date().toLocaleString(zh ? "zh-CN" : "en-GB", { hour12: false });
    document.getElementById("r-limit").textContent = it.days + " " + t("working_days");
    const ul = document.getElementById("r-materials");
    it.materials.forEach(function (m) {
      const inp = document.getElementById("mat-" + m.code);
      const li = document.createElement("li");
      li.textContent = (inp.files.length ? "☑ " : "☐ ") + name(m) + (inp.files.length ? "" : "（" + t("material_missing") + "）");
      ul.appendChild(li);
    });
    document.getElementById("r-link").href = "/ui/cases/" + encodeURIComponent(c.serial);
    form.hidden = true;
    document.querySelector("h1.no-print").hidden = true;
    const r = document.getElementById("receipt");
    r.hidden = false; r.focus();
  }
  document.getElementById("print-receipt").addEventListener("click", function () { window.print(); });
  fillItems();
})();
