/* 受理: item picker (Enter picks the first match), home district from the item's rule, applicant as a person
   or an organisation with an optional agent, each ID type checked by its own rule, materials with several
   files each, everything checked before the upload starts (here and by POST /cases/check), upload progress,
   then the printable receipt. */
(function () {
  "use strict";
  const t = CL.t, zh = CL.zh;
  const items = CL.data("cl-items", []);
  const limits = CL.data("cl-limits", { max_file_bytes: 10485760, types: ["pdf", "jpg", "jpeg", "png", "ofd"] });
  const $ = function (id) { return document.getElementById(id); };
  const form = $("intake-form"), search = $("item-search"), select = $("item_code"), info = $("item-info");
  const list = $("materials"), box = $("intake-error");
  const name = function (o) { return zh ? o.name_zh : o.name_en; };

  // ---- items
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
    if (shown.length === 1 && select.value !== shown[0].code) { select.value = shown[0].code; showItem(); }
    return shown;
  }
  function current() { return items.find(function (i) { return i.code === select.value; }); }
  search.addEventListener("input", fillItems);
  search.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter") {  // Enter picks the (first) matching item; it never submits the form
      ev.preventDefault();
      const shown = fillItems();
      if (shown.length) { select.value = select.value || shown[0].code; showItem(); select.focus(); }
    } else if (ev.key === "ArrowDown") { ev.preventDefault(); select.focus(); }
  });
  select.addEventListener("change", showItem);
  select.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { ev.preventDefault(); showItem(); $("home_district").focus(); } });

  // ---- materials: one row per material, several files (pages) each, checked as they are chosen
  function materialsOf(it) {
    const out = it.materials.slice();
    if ($("has_agent").checked && it.agent_letter) out.push(it.agent_letter);
    return out;
  }
  function fileFault(f) {
    const ext = (f.name.split(".").pop() || "").toLowerCase();
    if (limits.types.indexOf(ext) < 0 || f.name.indexOf(".") < 0) return t("err_type");
    if (f.size === 0) return t("err_empty");
    if (f.size > limits.max_file_bytes) return t("err_size", { mb: Math.round(limits.max_file_bytes / 1048576) });
    return "";
  }
  function markRow(m, inp) {
    const li = $("li-" + m.code), tick = li.querySelector(".tick"), state = $("st-" + m.code), err = $("mat-" + m.code + "-error");
    const files = Array.from(inp.files || []);
    const bad = files.map(function (f) { const why = fileFault(f); return why ? f.name + "：" + why : ""; }).filter(Boolean);
    if (bad.length) {  // a refused file is not kept: the input is emptied and the row says why
      inp.value = "";
      err.textContent = t("file_refused") + bad.join("；");
      li.classList.add("has-error"); li.classList.remove("has-file");
      tick.textContent = "☐"; state.textContent = t("material_missing");
      inp.setAttribute("aria-invalid", "true");
      return;
    }
    err.textContent = ""; li.classList.remove("has-error"); inp.removeAttribute("aria-invalid");
    const has = files.length > 0;
    li.classList.toggle("has-file", has);
    tick.textContent = has ? "☑" : "☐";
    state.textContent = has ? t("pages_chosen", { n: files.length }) : t("material_missing");
  }
  function showItem() {
    const it = current();
    const keepFiles = {};
    list.querySelectorAll("input[type=file]").forEach(function (inp) { keepFiles[inp.id] = inp; });
    list.textContent = "";
    CL.clearFieldErrors(list);
    if (!it) { info.textContent = ""; return; }
    info.textContent = t("time_limit") + "：" + it.days + " " + t("working_days") + " · " + t("home_rule", { rule: name(it.home_rule) });
    $("item_code-error").textContent = ""; select.removeAttribute("aria-invalid");
    $("property-field").hidden = it.home_rule.suggest !== "property_district";
    materialsOf(it).forEach(function (m) {
      const li = document.createElement("li");
      li.id = "li-" + m.code;
      const tick = document.createElement("span"); tick.className = "tick"; tick.setAttribute("aria-hidden", "true"); tick.textContent = "☐";
      const lab = document.createElement("label"); lab.htmlFor = "mat-" + m.code; lab.textContent = name(m);
      const state = document.createElement("span"); state.className = "state"; state.id = "st-" + m.code; state.textContent = t("material_missing");
      lab.appendChild(document.createTextNode(" ")); lab.appendChild(state);
      let inp = keepFiles["mat-" + m.code];
      if (!inp) {
        inp = document.createElement("input"); inp.type = "file"; inp.id = "mat-" + m.code; inp.name = "materials." + m.code;
        inp.multiple = true;
        inp.accept = ".pdf,.jpg,.jpeg,.png,.ofd,application/pdf,image/jpeg,image/png";
        inp.setAttribute("aria-describedby", "mat-" + m.code + "-error");
      }
      const err = document.createElement("p"); err.className = "field-error"; err.id = "mat-" + m.code + "-error"; err.setAttribute("aria-live", "polite");
      /* one handler per input, replaced when the list is redrawn (a kept input must not check twice: the
         second check saw the emptied input and wiped the first one's sentence) */
      inp.onchange = function () { markRow(m, inp); };
      li.appendChild(tick); li.appendChild(lab); li.appendChild(inp); li.appendChild(err);
      list.appendChild(li);
      if (inp.files && inp.files.length) markRow(m, inp);
    });
    suggest();
  }

  // ---- applicant type, agent
  function applicantType() { return $("at-organisation").checked ? "organisation" : "person"; }
  function showType() {
    const org = applicantType() === "organisation";
    document.querySelectorAll(".org-only").forEach(function (e) { e.hidden = !org; });
    document.querySelectorAll(".person-only").forEach(function (e) { e.hidden = org; });
    const lab = $("name-label"); lab.textContent = org ? lab.getAttribute("data-org") : lab.getAttribute("data-person");
    suggest();
  }
  $("at-person").addEventListener("change", showType);
  $("at-organisation").addEventListener("change", showType);
  $("has_agent").addEventListener("change", function () { $("agent-fields").hidden = !$("has_agent").checked; showItem(); });

  // ---- home district suggested by the item's rule (the server applies the same rule: ledger.hall.cases)
  const districtSel = $("home_district");
  function districtName(code) {
    const o = districtSel.querySelector('option[value="' + code + '"]');
    return o ? o.textContent : "";
  }
  function suggest() {
    const it = current(), hint = $("home-suggest");
    let code = "";
    if (it && it.home_rule.suggest === "property_district") code = $("property_district").value;
    if (it && it.home_rule.suggest === "id_region" && applicantType() === "person" && $("applicant_id_type").value === "resident_id") code = $("applicant_id_number").value.trim().slice(0, 6);
    if (it && it.home_rule.suggest === "credit_code_region" && applicantType() === "organisation") code = $("applicant_credit_code").value.trim().toUpperCase().slice(2, 8);
    const opt = code && districtSel.querySelector('option[value="' + code + '"]');
    if (!opt) { hint.hidden = true; hint.removeAttribute("data-code"); return; }
    const words = opt.disabled ? "suggest_home_no_hall" : "suggest_home";
    const dname = districtName(code).replace(t("district_no_hall"), "");
    $("home-suggest-text").textContent = t(words, { rule: name(it.home_rule), district: dname });
    $("use-suggest").hidden = opt.disabled;  // a district without a hall cannot be chosen
    hint.classList.toggle("warn", opt.disabled);
    hint.setAttribute("data-code", code);
    hint.hidden = false;
    if (!districtSel.value && !opt.disabled) districtSel.value = code;
  }
  $("use-suggest").addEventListener("click", function () {
    const code = $("home-suggest").getAttribute("data-code");
    if (code) { districtSel.value = code; districtSel.dispatchEvent(new Event("change")); }
  });
  ["property_district", "applicant_id_number", "applicant_credit_code", "applicant_id_type"].forEach(function (f) {
    $(f).addEventListener("change", suggest);
  });

  // ---- the rules of each ID type (the server's are in ledger/hall/identity.py; these are the inline hints)
  const W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  function mod112(v) { let s = 0; for (let i = 0; i < 17; i++) s += parseInt(v[i], 10) * W[i]; return "10X98765432"[s % 11]; }
  function gb11643(v) {
    if (!/^\d{17}[\dX]$/.test(v)) return t("err_id_resident");
    return mod112(v) === v[17] ? "" : t("err_id_check");
  }
  function mrz(v) { let s = 0; for (let i = 0; i < v.length; i++) { const c = v[i]; const n = /\d/.test(c) ? +c : c.charCodeAt(0) - 55; s += n * [7, 3, 1][i % 3]; } return String(s % 10); }
  const ID_RULES = {
    resident_id: gb11643,
    residence_permit: function (v) { if (/^\d{17}[\dX]$/.test(v) && !/^8[123]0000/.test(v)) return t("err_permit"); return gb11643(v); },
    foreign_permanent: function (v) {
      if (/^[A-Z]{3}\d{12}$/.test(v)) return mrz(v.slice(0, 14)) === v[14] ? "" : t("err_id_check");
      if (/^9\d{16}[\dX]$/.test(v)) return mod112(v) === v[17] ? "" : t("err_id_check");
      return t("err_foreign");
    },
    passport: function (v) { return /^[A-Z0-9]{5,17}$/.test(v) ? "" : t("err_passport"); },
    hk_macao_permit: function (v) { return /^[HM]\d{8}(\d{2})?$/.test(v) ? "" : t("err_hkm"); },
  };
  const CC = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  function creditCode(v) {
    if (v.length !== 18 || v.split("").some(function (c) { return CC.indexOf(c) < 0; })) return t("err_credit");
    let s = 0, w = 1;
    for (let i = 0; i < 17; i++) { s += CC.indexOf(v[i]) * w; w = (w * 3) % 31; }
    return CC[(31 - (s % 31)) % 31] === v[17] ? "" : t("err_credit");
  }
  const PHONE = /^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$/;
  function setError(field, msg) {
    const el = $(field), err = $(field + "-error");
    if (err) err.textContent = msg;
    if (el) { if (msg) el.setAttribute("aria-invalid", "true"); else el.removeAttribute("aria-invalid"); }
    return !msg;
  }
  const up = function (v) { return v.replace(/\s/g, "").toUpperCase(); };
  const checks = {
    item_code: function () { return select.value ? "" : t("err_required"); },
    home_district: function (v) { return v ? "" : t("err_required"); },
    applicant_name: function (v) { return v.trim() ? "" : t("err_required"); },
    applicant_id_number: function (v) { if (applicantType() !== "person") return ""; return v ? ID_RULES[$("applicant_id_type").value](up(v)) : t("err_required"); },
    applicant_credit_code: function (v) { if (applicantType() !== "organisation") return ""; return v ? creditCode(up(v)) : t("err_required"); },
    legal_rep_name: function (v) { return applicantType() !== "organisation" || v.trim() ? "" : t("err_required"); },
    applicant_phone: function (v) { return !v ? t("err_required") : PHONE.test(v.replace(/\s/g, "")) ? "" : t("err_phone_any"); },
    agent_name: function (v) { return !$("has_agent").checked || v.trim() ? "" : t("err_required"); },
    agent_id_number: function (v) { if (!$("has_agent").checked) return ""; return v ? ID_RULES[$("agent_id_type").value](up(v)) : t("err_required"); },
    agent_phone: function (v) { return !$("has_agent").checked || !v || PHONE.test(v.replace(/\s/g, "")) ? "" : t("err_phone_any"); },
  };
  Object.keys(checks).forEach(function (f) {
    const el = $(f);
    el.addEventListener("blur", function (ev) {
      /* leaving the field for the submit button: the submit checks everything. A sentence shown here would
         push the button down between the press and the release, and the click would be lost. */
      if (ev.relatedTarget && ev.relatedTarget.id === "submit-intake") return;
      setError(f, checks[f](el.value.trim()));
    });
    el.addEventListener("input", function () { if (el.getAttribute("aria-invalid")) setError(f, checks[f](el.value.trim())); });
  });
  /* every fault of the form at once: fields, then every material without a file */
  function validate() {
    let first = null, missing = [];
    Object.keys(checks).forEach(function (f) {
      const el = $(f);
      if (!setError(f, checks[f](el.value.trim())) && !first) first = el;
    });
    const it = current();
    if (it) materialsOf(it).forEach(function (m) {
      const inp = $("mat-" + m.code);
      if (!inp.files || !inp.files.length) {
        missing.push(m);
        $("mat-" + m.code + "-error").textContent = t("material_missing") + "：" + name(m);
        $("li-" + m.code).classList.add("has-error");
        if (!first) first = inp;
      }
    });
    return { first: first, missing: missing };
  }
  function fields() {
    const out = { item_code: select.value, home_district: districtSel.value, applicant_type: applicantType() };
    ["applicant_name", "applicant_phone", "applicant_address", "property_district"].forEach(function (f) { out[f] = $(f).value.trim(); });
    if (out.applicant_type === "person") {
      out.applicant_id_type = $("applicant_id_type").value; out.applicant_id_number = up($("applicant_id_number").value);
    } else {
      out.applicant_credit_code = up($("applicant_credit_code").value); out.legal_rep_name = $("legal_rep_name").value.trim();
    }
    if ($("has_agent").checked) {
      out.agent_name = $("agent_name").value.trim(); out.agent_id_type = $("agent_id_type").value;
      out.agent_id_number = up($("agent_id_number").value); out.agent_phone = $("agent_phone").value.trim();
    }
    return out;
  }
  function chosenFiles() {
    const out = [];
    list.querySelectorAll("input[type=file]").forEach(function (inp) {
      for (const f of inp.files) out.push({ input: inp, kind: inp.name.slice("materials.".length), file: f });
    });
    return out;
  }
  function offerNotice(missingCodes) {
    const it = current(), wrap = $("incomplete-wrap");
    if (!it || !missingCodes.length) { wrap.hidden = true; return; }
    $("incomplete-link").href = "/ui/print/incomplete?item_code=" + encodeURIComponent(it.code) + "&missing=" + encodeURIComponent(missingCodes.join(","));
    wrap.hidden = false;
  }
  function missingFrom(err) {
    return (err.problems.length ? err.problems : [err]).filter(function (p) { return p.messageCode === "material_missing"; })
      .map(function (p) { return p.field.replace(/^materials\./, ""); });
  }

  // ---- submit: check everything first (here, then the server's own rules), upload only when all is right
  const wrap = $("progress-wrap"), bar = $("progress"), txt = $("progress-text"), btn = $("submit-intake");
  function progressOff() { wrap.hidden = true; bar.value = 0; txt.textContent = ""; }
  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    box.hidden = true; progressOff();
    CL.clearFieldErrors(form);
    const v = validate();
    if (v.first) {
      box.textContent = t("fix_below"); box.hidden = false;
      offerNotice(v.missing.map(function (m) { return m.code; }));
      v.first.focus();
      return;
    }
    btn.disabled = true;
    const f = fields(), files = chosenFiles();
    try {
      $("progress-label").textContent = t("checking");
      await CL.api("POST", "/cases/check", {
        fields: f,
        files: files.map(function (x) { return { kind: x.kind, name: x.file.name, size: x.file.size, type: x.file.type || "" }; }),
      });
      const fd = new FormData();
      Object.keys(f).forEach(function (k) { fd.append(k, f[k]); });
      files.forEach(function (x) { fd.append(x.input.name, x.file, x.file.name); });
      $("progress-label").textContent = t("uploading");
      wrap.hidden = false;
      const key = CL.formKey(form);  // the same key if this submission is retried after a lost answer
      const c = await CL.upload("/cases", fd, function (p) { bar.value = Math.round(p * 100); txt.textContent = Math.round(p * 100) + "%"; }, key);
      CL.doneKey(form);
      receipt(c);
    } catch (err) {
      progressOff();  // never a full bar beside an error
      CL.showError(box, err);
      offerNotice(missingFrom(err));
    } finally { btn.disabled = false; }
  });
  function receipt(c) {
    $("r-serial").textContent = c.serial;
    $("r-print").href = "/ui/cases/" + encodeURIComponent(c.serial) + "/print/receipt";
    $("r-link").href = "/ui/cases/" + encodeURIComponent(c.serial);
    form.hidden = true;
    document.querySelector("h1.no-print").hidden = true;
    const r = $("receipt");
    r.hidden = false; r.focus();
  }
  fillItems();
  showType();
  CL.ready();  // wired: the submit buttons may be used now
})();
