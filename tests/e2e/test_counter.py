"""The counter and the home-district office as staff really work (issue 18), in a real Chromium at 1366×768
against real hall processes on a real chain. Each mistake the issue names is made on purpose and the Chinese
staff sentence is asserted at the field (or material row) it belongs to; every printed document is saved as
a screenshot in artifacts/screenshots/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ledger.dev.demo import demo_id_number
from ledger.dev.localnet import LocalNet
from tests.e2e.conftest import fresh_totp, pdf, png, reload_until, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

MIGRATE = ["application_form", "id_card", "household_register", "housing_proof"]
ENGLISH = re.compile(r"\b(the|is|not|required|bytes|limit|POST|Bearer|error)\b")


def _no_english(text: str) -> None:
    assert not ENGLISH.search(text), f"an English sentence on a zh-CN page: {text!r}"


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = Path(tmp_path_factory.mktemp("scans"))
    for m in [*MIGRATE, "authorisation_letter"]:
        (d / f"{m}.pdf").write_bytes(pdf(f"scan of {m}"))
    (d / "page2.pdf").write_bytes(pdf("second page"))
    (d / "id_card_back.png").write_bytes(png())
    (d / "notes.txt").write_text("not a scan")
    (d / "fake.pdf").write_bytes(b"plain text pretending to be a pdf")
    (d / "big.pdf").write_bytes(b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024))
    return d


def _fill_applicant(page: Any) -> None:
    page.fill("#applicant_name", "林小梅")
    page.fill("#applicant_id_number", demo_id_number("35058219851120004"))
    page.fill("#applicant_phone", "13805950000")


def test_intake_mistakes_are_named_in_chinese_at_their_field(browser: Any, net: LocalNet, scans: Path) -> None:
    a, b = net.halls[0], net.halls[1]
    page = sign_in(browser, a, "clerk")
    page.goto(f"{a['url']}/ui/intake")
    # Enter in the item search picks the item; it does not submit the form
    page.fill("#item-search", "户口迁移")
    page.press("#item-search", "Enter")
    assert page.locator("#item_code").input_value() == "HJ-MIGRATE"
    assert page.locator("#intake-error").is_hidden()
    # districts without a connected hall are offered as such and cannot be chosen
    no_hall = page.locator("#home_district option[data-no-hall]")
    assert no_hall.count() == 11 - 3 and "未接入" in no_hall.first.inner_text()
    assert no_hall.first.is_disabled()
    # the home district is suggested from the item's rule (户籍所在地: the resident ID's address code)
    page.fill("#applicant_id_number", demo_id_number(f"{b['district']}19851120004"))
    page.dispatch_event("#applicant_id_number", "change")
    assert page.locator("#home-suggest").is_visible() and "户籍所在地" in page.inner_text("#home-suggest")
    assert page.locator("#home_district").input_value() == str(b["district"])
    # submit with nothing else: every fault at once, each at its field, all missing materials listed
    page.fill("#applicant_id_number", "350582198511200041")  # wrong check character
    page.click("#submit-intake")
    assert "校验码不对" in page.inner_text("#applicant_id_number-error")
    assert page.inner_text("#applicant_name-error") and page.inner_text("#applicant_phone-error")
    for m in MIGRATE:
        assert "未选" in page.inner_text(f"#mat-{m}-error"), m
    assert page.locator("#progress-wrap").is_hidden()
    assert page.locator("#incomplete-link").is_visible()
    screenshot(page, "30-intake-every-fault-at-once")
    with page.context.expect_page() as popup:
        page.click("#incomplete-link")
    notice = popup.value
    notice.wait_for_load_state()
    assert notice.locator("#doc-missing li").count() == 4 and "户口簿" in notice.inner_text("#doc-missing")
    screenshot(notice, "31-doc-one-time-notice")
    notice.close()
    # a refused file is not marked 已选, and the row says why, in Chinese
    page.set_input_files("#mat-application_form", str(scans / "notes.txt"))
    row = page.locator("#li-application_form")
    assert "has-file" not in (row.get_attribute("class") or "")
    assert "只接受 PDF" in page.inner_text("#mat-application_form-error")
    page.set_input_files("#mat-id_card", str(scans / "big.pdf"))
    assert "MB" in page.inner_text("#mat-id_card-error") and "未选" in page.inner_text("#st-id_card")
    # several pages per material
    page.set_input_files("#mat-application_form", [str(scans / "application_form.pdf"), str(scans / "page2.pdf")])
    assert "已选 2 个文件" in page.inner_text("#st-application_form")
    _fill_applicant(page)
    page.select_option("#home_district", str(b["district"]))
    page.set_input_files("#mat-id_card", str(scans / "id_card.pdf"))
    page.set_input_files("#mat-household_register", str(scans / "household_register.pdf"))
    page.set_input_files("#mat-housing_proof", str(scans / "fake.pdf"))  # looks like a pdf by name only
    page.click("#submit-intake")
    page.wait_for_selector("#intake-error:not([hidden])")
    assert "内容不是 .pdf 文件" in page.inner_text("#mat-housing_proof-error")
    assert page.locator("#progress-wrap").is_hidden()  # no bar left at 100 % beside the error
    _no_english(page.inner_text("#intake-error"))
    screenshot(page, "32-intake-server-refusal-at-row")
    page.context.close()


def test_session_expiry_keeps_the_form_and_the_files(browser: Any, net: LocalNet, scans: Path) -> None:
    a, b = net.halls[0], net.halls[1]
    page = sign_in(browser, a, "clerk")
    page.goto(f"{a['url']}/ui/intake")
    page.fill("#item-search", "HJ-MIGRATE")
    page.press("#item-search", "Enter")
    page.select_option("#home_district", str(b["district"]))
    _fill_applicant(page)
    for m in MIGRATE:
        page.set_input_files(f"#mat-{m}", str(scans / f"{m}.pdf"))
    # the session ends behind the clerk's back (expiry, or signed out elsewhere)
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "caseledger_csrf")
    r = page.request.post(f"{a['url']}/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status == 204
    page.click("#submit-intake")
    page.wait_for_selector("#reauth[open]")
    screenshot(page, "33-reauth-in-place")
    page.fill("#reauth-password", "wrong password")
    page.click("#reauth-go")
    page.wait_for_selector("#reauth-error:has-text('不正确')")
    creds = json.loads(Path(a["dir"], "demo-accounts.json").read_text())["clerk"]
    page.fill("#reauth-password", creds["password"])
    page.click("#reauth-go")
    page.wait_for_selector("#receipt:not([hidden])")
    serial = page.inner_text("#r-serial").strip()
    assert re.fullmatch(r"TB\d{8}-\d{3}-\d{5}", serial)
    page.context.close()


@pytest.fixture(scope="module")
def agent_case(browser: Any, net: LocalNet, scans: Path) -> dict[str, Any]:
    """An organisation applying through an agent, at hall A for hall B's district."""
    a, b = net.halls[0], net.halls[1]
    page = sign_in(browser, a, "clerk")
    page.goto(f"{a['url']}/ui/intake")
    page.fill("#item-search", "HJ-MIGRATE")
    page.press("#item-search", "Enter")
    page.select_option("#home_district", str(b["district"]))
    page.check("#at-organisation")
    page.fill("#applicant_name", "泉州市示例贸易有限公司")
    page.fill("#applicant_credit_code", "91350100M000100Y44")  # wrong GB 32100 check character
    page.fill("#legal_rep_name", "王大明")
    page.fill("#applicant_phone", "0595-22345678")
    page.check("#has_agent")
    page.fill("#agent_name", "陈代理")
    page.select_option("#agent_id_type", "hk_macao_permit")
    page.fill("#agent_id_number", "X1234567")
    for m in MIGRATE:
        page.set_input_files(f"#mat-{m}", str(scans / f"{m}.pdf"))
    page.click("#submit-intake")
    assert "统一社会信用代码" in page.inner_text("#applicant_credit_code-error")
    assert "H或M开头" in page.inner_text("#agent_id_number-error")
    assert "未选" in page.inner_text("#mat-authorisation_letter-error")  # the agent brings the letter
    page.fill("#applicant_credit_code", "91350100M000100Y43")
    page.fill("#agent_id_number", "H12345678")
    page.set_input_files("#mat-authorisation_letter", str(scans / "authorisation_letter.pdf"))
    page.click("#submit-intake")
    page.wait_for_selector("#receipt:not([hidden])")
    serial = page.inner_text("#r-serial").strip()
    page.goto(f"{a['url']}/ui/cases/{serial}/print/receipt")
    assert page.locator("#receipt-qr svg").count() == 1
    code = page.inner_text("#lookup-code").strip()
    assert re.fullmatch(r"[A-Z2-9]{8}", code)
    assert page.inner_text("#doc-clerk").strip() and "示例贸易" in page.inner_text("#doc-applicant")
    screenshot(page, "34-doc-receipt")
    page.context.close()
    return {"serial": serial, "code": code}


def test_public_lookup_shows_progress_without_personal_data(
    browser: Any, net: LocalNet, agent_case: dict[str, Any]
) -> None:
    a = net.halls[0]
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = ctx.new_page()
    page.goto(f"{a['url']}/lookup?serial={agent_case['serial']}")
    page.fill("#code", "WRONGCOD")
    page.click("#lookup-go")
    page.wait_for_selector("#lookup-error:not([hidden])")
    assert "查询码不对" in page.inner_text("#lookup-error")
    page.fill("#code", agent_case["code"])
    page.click("#lookup-go")
    page.wait_for_selector("#lookup-result:not([hidden])")
    text = page.inner_text("#lookup-result")
    assert "户口迁移" in text and "王大明" not in text and "陈代理" not in text
    screenshot(page, "35-public-lookup")
    ctx.close()


def test_home_office_asks_before_accepting_then_decides_safely(
    browser: Any, net: LocalNet, scans: Path, agent_case: dict[str, Any]
) -> None:
    a, b, serial = net.halls[0], net.halls[1], agent_case["serial"]
    page = sign_in(browser, b, "officer")
    # 待办: search by the organisation's name finds it; the applicant column is masked... for a person only
    page.goto(f"{b['url']}/ui/cases?q=示例贸易")
    reload_until(page, f"tr[data-serial='{serial}']")
    assert page.locator("#inbox-table thead th").first.evaluate("e => getComputedStyle(e).position") == "sticky"
    page.goto(f"{b['url']}/ui/cases/{serial}")
    assert "第1号大厅" not in page.inner_text("main")
    # 受理前一次性告知: ask for a clearer application form before accepting
    page.check("form[data-action='supplement-request'] input[value='application_form']")
    page.fill("#sup-note", "签名不清")
    page.click("#do-supplement-request")
    page.wait_for_selector("#notice-line")
    # while the applicant is asked for more, 受理 is not offered (a refusal with a reason still is)
    assert page.locator("#acc-yes").count() == 0 and "补正后方可受理" in page.inner_text("#acc-awaits")
    page.goto(f"{b['url']}/ui/cases/{serial}/print/supplement")
    assert "申请表" in page.inner_text("#doc-missing")
    screenshot(page, "36-doc-supplement-notice")
    # the accepting hall learns of it (and that B has received the package), the clerk uploads the supplement
    clerk = sign_in(browser, a, "clerk")
    clerk.goto(f"{a['url']}/ui/cases/{serial}")
    reload_until(clerk, "#do-supplement")
    assert "对方已接收" in clerk.inner_text("#handover")
    clerk.set_input_files("#mat-application_form", str(scans / "page2.pdf"))
    with clerk.expect_navigation(timeout=60_000):  # the page reloads once the hall has stored the supplement
        clerk.click("#do-supplement")
    clerk.context.close()  # (closed before that reload, the upload was cancelled: seen once in CI)
    # back at B: nothing pre-selected; Enter in the reason never decides; a refusal needs a reason
    page.goto(f"{b['url']}/ui/cases/{serial}")
    reload_until(page, "#acc-yes")  # 受理 is offered once the supplement asked for is in
    assert not page.locator("#acc-yes").is_checked() and not page.locator("#acc-no").is_checked()
    page.fill("#reason", "材料齐全")
    page.press("#reason", "Enter")
    page.click("#do-acceptance")
    assert "请选择决定" in page.inner_text("#action-error")
    page.check("#acc-no")
    page.fill("#reason", "")
    page.click("#do-acceptance")
    assert "不予受理须填写理由" in page.inner_text("#reason-error")
    page.check("#acc-yes")
    page.click("#do-acceptance")
    page.wait_for_selector("#confirm:not([hidden])")
    assert serial in page.inner_text("#confirm-text")
    page.click("#confirm-yes")
    page.wait_for_selector("#do-decide")
    # once accepted it is due within the item's 5 working days: the 待办 filter finds it
    page.goto(f"{b['url']}/ui/cases")
    _search(page, due="5", sort="due")
    assert page.locator(f"tr[data-serial='{serial}']").count() == 1
    page.goto(f"{b['url']}/ui/cases/{serial}")
    # 不予许可 needs a reason and its decision document
    page.check("#res-no")
    page.click("#do-decide")
    page.click("#confirm-yes")
    page.wait_for_selector("#note-error:has-text('不予许可须填写理由')")
    assert "不予许可决定书" in page.inner_text("#document-error")
    _no_english(page.inner_text("#action-error"))
    screenshot(page, "37-denial-needs-reason-and-document")
    page.check("#res-yes")
    page.set_input_files("#document", str(scans / "page2.pdf"))
    page.click("#do-decide")
    page.click("#confirm-yes")
    page.wait_for_selector("#result-summary")
    assert "准予许可" in page.inner_text("#result-summary") and page.locator("#days-left").count() == 0
    page.context.close()
    # A delivers by post: the tracking number is required
    clerk = sign_in(browser, a, "clerk")
    clerk.goto(f"{a['url']}/ui/cases/{serial}")
    reload_until(clerk, "#do-deliver")
    clerk.select_option("#del-method", "post")
    clerk.fill("#recipient_name", "陈代理")
    clerk.check("input[name=recipient_type][value=agent]")
    clerk.click("#do-deliver")
    clerk.wait_for_selector("#tracking_number-error:has-text('邮件单号')")
    clerk.fill("#tracking_number", "SF1234567890")
    clerk.click("#do-deliver")
    clerk.wait_for_selector("#case-status:has-text('已送达')")
    clerk.goto(f"{a['url']}/ui/cases/{serial}/print/delivery")
    assert "SF1234567890" in clerk.inner_text("#doc-tracking") and "代理人" in clerk.inner_text("#doc-recipient")
    screenshot(clerk, "38-doc-delivery-receipt")
    clerk.context.close()


def _intake_person(browser: Any, a: dict[str, Any], b: dict[str, Any], scans: Path, id17: str, phone: str) -> str:
    page = sign_in(browser, a, "clerk")
    page.goto(f"{a['url']}/ui/intake")
    page.fill("#item-search", "HJ-MIGRATE")
    page.press("#item-search", "Enter")
    page.select_option("#home_district", str(b["district"]))
    page.fill("#applicant_name", "郑秀英")
    page.fill("#applicant_id_number", demo_id_number(id17))
    page.fill("#applicant_phone", phone)
    for m in MIGRATE:
        page.set_input_files(f"#mat-{m}", str(scans / f"{m}.pdf"))
    page.set_input_files("#mat-id_card", [str(scans / "id_card.pdf"), str(scans / "id_card_back.png")])
    page.click("#submit-intake")
    page.wait_for_selector("#receipt:not([hidden])")
    serial = page.inner_text("#r-serial").strip()
    page.context.close()
    return serial


def _search(page: Any, **fields: str) -> None:
    """Fill the 待办 filter form as staff do and apply it."""
    for sel, value in fields.items():
        el = page.locator(f"#f-{sel}")
        if el.evaluate("e => e.tagName") == "SELECT":
            el.select_option(value)
        elif el.get_attribute("type") == "checkbox":
            el.set_checked(value == "1")
        else:
            el.fill(value)
    with page.expect_navigation():  # a plain GET form: the filtered list is a new page
        page.click("#f-apply")


def test_home_office_finds_the_case_reveals_with_a_reason_and_refuses_with_a_notice(
    browser: Any, net: LocalNet, scans: Path
) -> None:
    """待办 search by serial / ID number / phone and its filters, the applicant masked in the list and on the
    case page until a reveal with its reason (logged in the access trail), files under their material with
    an inline preview, hall and staff names, and 不予受理 with its confirmation and printed notice."""
    a, b = net.halls[0], net.halls[1]
    id_number, phone = demo_id_number("35058219900101123"), "13905957777"
    serial = _intake_person(browser, a, b, scans, "35058219900101123", phone)
    page = sign_in(browser, b, "officer")
    page.goto(f"{b['url']}/ui/cases")
    reload_until(page, f"tr[data-serial='{serial}']")
    row = page.locator(f"tr[data-serial='{serial}']")
    assert "郑**" in row.inner_text() and "郑秀英" not in row.inner_text()
    assert id_number not in row.inner_text() and id_number[:6] + "********" + id_number[-4:] in row.inner_text()
    assert row.locator(".needs-me").count() == 1  # 待受理 at the home district: the officer's move
    for query in (serial, id_number, phone, "郑秀英"):
        _search(page, q=query)
        assert page.locator("#inbox-table tbody tr").count() == 1, query
        assert page.locator(f"tr[data-serial='{serial}']").count() == 1, query
    _search(page, q="13900000000")
    assert page.locator("#inbox-table").count() == 0 and "暂无办件" in page.inner_text("#tab-inbox")
    _search(page, q="", status="submitted", item="HJ-MIGRATE", mine="1", sort="age")
    assert page.locator(f"tr[data-serial='{serial}']").count() == 1
    _search(page, due="5")  # due within N working days counts from acceptance: not this one yet
    assert page.locator(f"tr[data-serial='{serial}']").count() == 0
    _search(page, due="")
    assert "第 1 / 1 页" in page.inner_text("#list-count")
    _search(page, status="decided")
    assert page.locator(f"tr[data-serial='{serial}']").count() == 0
    _search(page, status="", mine="", sort="due")
    # the case page: names, not numbers; the applicant masked until a reveal with a reason
    page.goto(f"{b['url']}/ui/cases/{serial}")
    main = page.inner_text("main")
    assert not re.search(r"第\d+号大厅", main) and a["name"] in page.inner_text("#accepting-hall")
    assert "demo clerk" in page.inner_text("#timeline li.event[data-stage='INTAKE']")
    ident = page.locator("#applicant-facts [data-field='applicant_id_number']")
    assert id_number not in ident.inner_text()
    page.click("#do-reveal")
    assert "必填" in page.inner_text("#reveal-reason-error")
    page.select_option("#reveal-reason", index=1)
    page.click("#do-reveal")
    page.wait_for_function(
        "n => document.querySelector(\"#applicant-facts [data-field='applicant_id_number']\").textContent.includes(n)",
        arg=id_number,
    )
    assert "郑秀英" in page.inner_text("#applicant-facts")
    # files under their material, previewed in the page
    form = page.locator("#files .material[data-kind='application_form']")
    assert "申请表" in form.locator("h3").inner_text()
    form.locator(".preview-btn").first.click()
    frame = form.locator("iframe.preview-frame")
    assert frame.count() == 1
    r = page.request.get(b["url"] + frame.get_attribute("src"))
    assert r.headers["content-type"] == "application/pdf" and r.headers["content-disposition"] == "inline"
    card = page.locator("#files .material[data-kind='id_card']")
    assert "2 页" in card.locator("h3").inner_text()  # both pages of the ID card, under its material
    card.locator(".preview-btn").nth(1).click()
    page.wait_for_function(
        "() => { const i = document.querySelector(\"#files .material[data-kind='id_card'] img.preview-img\");"
        " return i && i.complete && i.naturalWidth === 64; }"
    )
    screenshot(page, "39-case-revealed-and-preview")
    # a second press closes each preview: Chromium's PDF viewer takes the focus when it has loaded, which
    # scrolls the page under a click made meanwhile (the decision buttons below would be missed)
    form.locator(".preview-btn").first.click()
    card.locator(".preview-btn").nth(1).click()
    assert page.locator("#files iframe.preview-frame, #files img.preview-img").count() == 0
    # 不予受理: a reason is required, the confirmation can be declined (nothing decided), then it is decided
    page.check("#acc-no")
    page.click("#do-acceptance")
    assert "不予受理须填写理由" in page.inner_text("#reason-error")
    page.fill("#reason", "不属于本事项受理范围")
    page.click("#do-acceptance")
    page.wait_for_selector("#confirm:not([hidden])")
    page.click("#confirm-no")
    assert page.locator("#confirm").is_hidden() and "待受理" in page.inner_text("#case-status")
    # the officer's session ends before the decision is sent: password and one-time code in place, then it is
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "caseledger_csrf")
    assert page.request.post(f"{b['url']}/auth/logout", headers={"X-CSRF-Token": csrf}).status == 204
    page.click("#do-acceptance")
    page.click("#confirm-yes")
    page.wait_for_selector("#reauth[open]")
    assert page.locator("#reauth-totp").is_visible()
    creds = json.loads(Path(b["dir"], "demo-accounts.json").read_text())["officer"]
    page.fill("#reauth-password", creds["password"])
    good = fresh_totp(b, "officer")
    page.fill("#reauth-totp", "000000" if good != "000000" else "111111")
    page.click("#reauth-go")
    page.wait_for_selector("#reauth-error:has-text('动态口令不正确')")
    _no_english(page.inner_text("#reauth-error"))
    page.fill("#reauth-totp", good)
    page.click("#reauth-go")
    page.wait_for_selector("#case-status:has-text('不予受理')")
    assert page.locator("#days-left").count() == 0  # no remaining days on a closed case
    page.goto(f"{b['url']}/ui/cases/{serial}/print/rejection")
    assert "不属于本事项受理范围" in page.inner_text("#doc-reason")  # typed before the sign-in again, kept
    assert page.inner_text("#print-doc").strip() == "打印"  # not "打印回执" on every document
    assert b["name"] in page.inner_text(".doc-hall") and page.locator(".seal").count() == 1
    assert id_number not in page.inner_text("#document")
    _no_english(page.inner_text("#document"))
    screenshot(page, "40-doc-rejection-notice")
    assert not page.js_errors, page.js_errors
    page.context.close()
    # the reveal is in the access trail, with its reason
    reg = sign_in(browser, b, "regulator")
    r = reg.request.get(f"{b['url']}/access-trail?serial={serial}")
    assert r.status == 200, r.text()
    reveals = [e for e in r.json()["data"] if e["action"] == "reveal_personal"]
    assert reveals and reveals[0]["actor"].endswith("officer"), reveals
    reg.context.close()


def test_home_district_from_the_property_and_each_id_type_by_its_own_rule(browser: Any, net: LocalNet) -> None:
    """不动产所在地 suggests the home district (and says plainly when that district has no hall, offering
    nothing to pick); each ID document type is checked by its own rule, its sentence at the field."""
    a, b = net.halls[0], net.halls[1]
    page = sign_in(browser, a, "clerk")
    page.goto(f"{a['url']}/ui/intake")
    page.fill("#item-search", "BDC-TRANSFER")
    page.press("#item-search", "Enter")
    assert page.locator("#property-field").is_visible()
    no_hall = page.locator("#home_district option[data-no-hall]").first.get_attribute("value")
    page.select_option("#property_district", no_hall)
    hint = page.locator("#home-suggest")
    assert "尚未接入" in hint.inner_text() and "不动产所在地" in hint.inner_text()
    assert page.locator("#use-suggest").is_hidden() and page.locator("#home_district").input_value() == ""
    page.select_option("#property_district", str(b["district"]))
    assert "建议承办区县" in hint.inner_text() and page.locator("#use-suggest").is_visible()
    assert page.locator("#home_district").input_value() == str(b["district"])
    screenshot(page, "41-intake-home-from-property")
    # each ID type by its own rule
    for id_type, number, words in [
        ("passport", "E1234", ""),
        ("passport", "护照12345", "5至17位"),
        ("residence_permit", demo_id_number("35058219851120004"), "810000"),
        ("residence_permit", demo_id_number("81000019851120004"), ""),
        ("foreign_permanent", "ABC123456789012", "校验码"),
        ("hk_macao_permit", "H1234567", "H或M开头"),
        ("resident_id", "35058219851120004X", "校验码"),
    ]:
        page.select_option("#applicant_id_type", id_type)
        page.fill("#applicant_id_number", number)
        page.click("#submit-intake")
        said = page.inner_text("#applicant_id_number-error")
        assert (words in said) if words else not said, (id_type, number, said)
        _no_english(said)
    page.context.close()
