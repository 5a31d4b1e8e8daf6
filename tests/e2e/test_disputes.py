"""Issue 19 in a real Chromium at 1366×768 against real hall processes on a real chain: a dispute opened from
the case page at the accepting hall, the case verified by serial at this hall against the chain (and a
tampered copy of a document uploaded from the applicant), the report picked from the stored ones, the
dispute resolved with a conclusion and printed — and the same dispute and its resolution seen at the home
hall, which received and verified them like any other event. Screenshots in artifacts/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ledger.dev.demo import HallClient, demo_id_number, wait_for
from ledger.dev.localnet import LocalNet
from tests.e2e.conftest import reload_until, screenshot, sign_in
from tests.integration.conftest import ANCHOR_MODES

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

BOTH_MODES = pytest.mark.parametrize("net", ANCHOR_MODES, indirect=True)
"""the dispute and the city-wide view read what was anchored: in event mode and in Merkle mode"""

MATS = ["application_form", "id_card", "household_register", "housing_proof"]


def _shot(mode: str, name: str) -> str:
    """A screenshot's name: the event-mode run's as before, the Merkle-mode run's marked as such."""
    return name if mode == "event" else f"{name}-merkle"


def _form(home: int) -> dict[str, str]:
    return {
        "item_code": "HJ-MIGRATE",
        "home_district": str(home),
        "applicant_name": "林小梅",
        "applicant_id_number": demo_id_number("35058219851120004"),
        "applicant_phone": "13805950000",
    }


@pytest.fixture(scope="module")
def disputed(net: LocalNet, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A case taken in at hall A for hall B's district (through A's API), held by both halls."""
    a, b = net.halls[0], net.halls[1]
    files = Path(tmp_path_factory.mktemp("dispute-scans"))
    clerk = HallClient.demo(a["dir"], a["url"], "clerk")
    form = _form(b["district"])
    parts = []
    for m in MATS:
        data = f"%PDF-1.4 scan of {m}".encode()
        (files / f"{m}.pdf").write_bytes(data)
        parts.append((f"materials.{m}", (f"{m}.pdf", data)))
    serial = str(clerk.intake(form, parts)["serial"])
    officer = HallClient.demo(b["dir"], b["url"], "regulator")
    wait_for(
        "B holds the anchored package",
        lambda: (v := officer.case(serial)) and sum(e["anchor"]["state"] == "anchored" for e in v["timeline"]) >= 2,
        timeout=90,
    )
    return {"serial": serial, "a": a, "b": b, "files": files, "mode": net.anchor_mode}


@BOTH_MODES
def test_dispute_open_verify_by_serial_resolve_print_seen_at_both_halls(browser: Any, disputed: dict[str, Any]) -> None:
    a, b, serial, files = disputed["a"], disputed["b"], disputed["serial"], disputed["files"]
    page = sign_in(browser, a, "dispute")
    page.goto(f"{a['url']}/ui/cases/{serial}")
    reload_until(page, "#timeline li.event[data-stage='MATERIALS'].anchor-anchored")
    assert "本办件没有争议" in page.inner_text("#case-disputes")
    page.click("#to-disputes")
    page.wait_for_url(f"**/ui/cases/{serial}/disputes")

    # open: who raised it is asked, at its field, in Chinese; the reason too
    page.click("#do-open")
    assert "请选择提出方" in page.inner_text("#raised_by-error")
    page.check("#raised-applicant")
    page.click("#do-open")
    assert page.inner_text("#reason-error") == "必填"
    page.fill("#reason", "申请人称提交的户口簿复印件被替换")
    page.click("#do-open")
    page.wait_for_selector("article.dispute[data-status='open']")
    assert "申请人提出" in page.inner_text("#disputes")
    screenshot(page, _shot(disputed["mode"], "40-dispute-opened"))
    reload_until(page, "article.dispute[data-status='open'][data-index]:not([data-index=''])")
    index = int(page.get_attribute("article.dispute[data-status='open']", "data-index") or "-1")

    # verify by serial: nothing downloaded, nothing uploaded; the report is stored and listed
    page.click("#verify-by-serial")
    page.wait_for_selector("#report-table tbody tr.v-match")
    assert "本厅记录（按办件编号）" in page.inner_text("#report-table")
    # a document from the applicant: the tampered copy does not match
    tampered = files / "household_register-copy.pdf"
    tampered.write_bytes((files / "household_register.pdf").read_bytes().replace(b"scan", b"scam"))
    page.click("#upload-box summary")
    page.check("#upload-form input[value=document]")
    page.set_input_files("#up-file", str(tampered))
    page.click("#do-upload")
    page.wait_for_selector("#report-table tbody tr.v-mismatch")
    assert page.locator("#report-table tbody tr").count() == 2
    screenshot(page, _shot(disputed["mode"], "41-dispute-reports"))

    # resolve: a report must be picked and a conclusion given, each said at its field
    form = page.locator(f"form.resolve-form[data-index='{index}']")
    form.locator("button").click()
    assert "请选择一份核验报告" in page.inner_text(f"#report_sha256-{index}-error")
    sha = page.get_attribute("#report-table tbody tr.v-match", "data-sha") or ""
    form.locator(f"input[value='{sha}']").check()
    form.locator("button").click()
    assert page.inner_text(f"#conclusion-{index}-error") == "必填"
    page.fill(f"#conclusion-{index}", "经按办件编号核验，本厅所存材料与链上记录一致，户口簿复印件未被替换。")
    form.locator("button").click()
    page.wait_for_selector("article.dispute[data-status='resolved']")
    reload_until(page, "article.dispute[data-status='resolved'] dd:has-text('已上链')")
    assert "户口簿复印件未被替换" in page.inner_text("article.dispute[data-status='resolved'] .dsp-conclusion")
    assert page.locator("form.resolve-form").count() == 0
    screenshot(page, _shot(disputed["mode"], "42-dispute-resolved"))

    # print: the dispute record, with the report's digest and a QR code to verify again
    with page.context.expect_page() as popup:
        page.click(f"#print-dispute-{index}")
    doc = popup.value
    doc.wait_for_load_state()
    assert doc.inner_text("#doc-digest").strip() == sha
    assert "户口簿复印件未被替换" in doc.inner_text("#doc-conclusion")
    assert "申请人" in doc.inner_text("#doc-raised-by")
    assert "(北京时间)" in doc.inner_text("#document")
    assert doc.locator("#dispute-qr svg").count() == 1
    screenshot(doc, _shot(disputed["mode"], "43-dispute-record-printed"))
    doc.emulate_media(media="print")
    assert doc.locator("#print-doc").is_hidden()
    # the printed verification report it rests on
    page.goto(f"{a['url']}/cases/{serial}/verifications/{sha}/report.html")
    text = page.inner_text("body")
    assert "区块链核验报告" in text
    # plain words first, then what was and was not checked, times on paper, signature/seal, digest and QR code
    order = [text.index(h) for h in ("一、核验结论", "二、核验了什么", "三、没有核验什么", "五、技术信息", "六、签章")]
    assert order == sorted(order)
    assert page.inner_text("#r-verdict").startswith("一致：所核验的")
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d:\d\d \(北京时间\)", text)
    assert "内容已核对" not in text and "核验人员（签字）" in text
    assert "文件内容已提供" in text and "未核对文件本身" not in text  # by serial: the hall's own files are checked
    assert "户口簿" in page.inner_text("#r-materials")  # material kinds in words, not codes
    assert page.inner_text("#report-digest") == sha and page.locator("#report-qr svg").count() == 1
    screenshot(page, _shot(disputed["mode"], "44-verification-report-printed"))
    assert page.js_errors == []
    page.context.close()

    # the home hall sees the dispute and its resolution (received, verified against the chain), and cannot
    # close another hall's dispute: no form to do so
    other = sign_in(browser, b, "dispute")
    other.goto(f"{b['url']}/ui/cases/{serial}/disputes")
    reload_until(other, "article.dispute[data-status='resolved']", timeout=120)
    text = other.inner_text("#disputes")
    assert "户口簿复印件未被替换" in text and "来自其他大厅（已核验）" in text
    assert other.locator("form.resolve-form").count() == 0
    screenshot(other, _shot(disputed["mode"], "45-dispute-seen-at-home-hall"))
    other.goto(f"{b['url']}/ui/cases/{serial}")
    assert "已处理" in other.inner_text("#case-disputes")
    timeline = other.locator("#timeline li.event").evaluate_all("els => els.map(e => e.dataset.stage)")
    assert timeline[-2:] == ["DISPUTE_OPENED", "DISPUTE_RESOLVED"]
    assert "处理结论: 经按办件编号核验" in other.inner_text("#timeline li.event[data-stage='DISPUTE_RESOLVED']")
    assert "时间: —" not in other.inner_text("#timeline")
    assert other.js_errors == []
    other.context.close()


# ------------------------------------------------------------------------------------------ 全市监管
@BOTH_MODES
def test_city_wide_dashboard_from_the_chain_equals_the_per_hall_sums_and_exports(
    browser: Any, net: LocalNet, tmp_path: Path
) -> None:
    """Cases taken in at all three halls; the regulator's city-wide dashboard at hall 1, computed from the chain
    alone, shows per accepting hall exactly the cases each hall's own records hold (and their stage), a filter
    narrows it, and the exports open in Python's csv module (BOM checked) and in openpyxl."""
    import csv
    import io

    import openpyxl

    halls = net.halls
    serials = []
    for n, h in enumerate(halls):
        clerk = HallClient.demo(h["dir"], h["url"], "clerk")
        for k in range(2):
            home = halls[(n + 1 + k) % 3]["district"]
            form = _form(home)
            parts = [(f"materials.{m}", (f"{m}.pdf", f"%PDF- {n}-{k} {m}".encode())) for m in MATS]
            serials.append((n, str(clerk.intake(form, parts)["serial"])))
    regs = [HallClient.demo(h["dir"], h["url"], "regulator") for h in halls]

    def own_rows(n: int) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = regs[n].http.get("/audit/cases", params={"accepting_hall": n + 1}).json()["data"]
        return rows

    def all_anchored() -> bool:
        for n, s in serials:
            v = regs[n].case(s)
            if not v or any(e["anchor"]["state"] != "anchored" for e in v["timeline"]):
                return False
        return True

    wait_for("every new case anchored", all_anchored, timeout=120)
    page = sign_in(browser, halls[0], "regulator")
    page.goto(f"{halls[0]['url']}/ui/audit/city")
    own = {n + 1: own_rows(n) for n in range(3)}  # each hall's own records of the cases it took in
    total = 0
    for hall_id, rows in own.items():
        row = page.locator(f"#cw-halls tr[data-hall='{hall_id}']")
        assert int(row.locator(".n-cases").inner_text()) == len(rows), (hall_id, len(rows))
        waiting = sum(1 for r in rows if r["status"] == "submitted")
        assert int(row.locator(".n-submitted").inner_text()) == waiting
        total += len(rows)
    assert int(page.inner_text("#cw-sum")) == total and total >= 6
    assert "不读取任何大厅的数据库" in page.inner_text("#cw-source")
    assert "补正暂停" in page.inner_text("#cw-approx")
    assert "cp_" not in page.inner_text("main")
    assert page.locator("#cw-chart-item svg").count() == 1
    screenshot(page, _shot(net.anchor_mode, "46-city-wide-dashboard"))
    # a filter: one accepting hall
    page.select_option("#hall", "2")
    page.click("#cw-apply")
    page.wait_for_url("**hall=2**")
    assert int(page.inner_text("#cw-sum")) == len(own[2])
    screenshot(page, _shot(net.anchor_mode, "47-city-wide-filtered"))
    # exports: CSV for Excel (BOM, Chinese headers and values) and .xlsx, of what is filtered
    with page.expect_download() as dl:
        page.click("#cw-csv")
    raw = Path(dl.value.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0][:3] == ["办件编号", "办理事项", "事项编码"] and len(table) - 1 == len(own[2])
    assert all("户口迁移" == r[1] and r[6] in ("待受理", "已受理（办理中）", "已办结", "已送达") for r in table[1:])
    assert not any(c.startswith(("{", "[")) for r in table for c in r)  # no raw JSON in a cell
    en = page.request.get(f"{halls[0]['url']}/audit/city/export.csv?hall=2&lang=en").body()
    assert next(csv.reader(io.StringIO(en.decode("utf-8-sig"))))[0] == "Case serial"
    with page.expect_download() as dl:
        page.click("#cw-xlsx")
    assert dl.value.suggested_filename == "city-cases.xlsx"
    xlsx = tmp_path / dl.value.suggested_filename
    dl.value.save_as(xlsx)
    wb = openpyxl.load_workbook(xlsx)
    ws = wb.active
    assert ws is not None
    cells = [[c.value for c in r] for r in ws.iter_rows()]
    assert cells[0][0] == "办件编号" and len(cells) - 1 == len(own[2])
    assert {r[0] for r in cells[1:]} == {r["serial"] for r in own[2]}
    assert page.js_errors == []
    page.context.close()


# ------------------------------------------------------------------------------------------ 账号管理
@pytest.mark.parametrize("net", ["event"], indirect=True)  # sign-in and accounts: not a matter of anchoring
def test_security_admin_creates_an_account_and_enrols_its_authenticator_through_the_pages(
    browser: Any, net: LocalNet
) -> None:
    """The security administrator creates a dispute officer (TOTP enrolment with a QR code, shown once), who
    signs in with the code from that secret; a refused role mix is said at its field; a clerk account changes
    its own password and signs in with the new one; disabling an account stops its sign-in."""
    import pyotp

    h = net.halls[2]
    admin = sign_in(browser, h, "secadmin")
    admin.goto(f"{h['url']}/ui/admin/accounts")
    # duties: an administrator role with a case role is refused, at the roles field, in Chinese
    admin.fill("#username", "heyan01")
    admin.fill("#display_name", "何燕")
    admin.fill("#password", "Quanzhou-Hall-Verify-2026!")
    admin.check("#role-dispute_officer")
    admin.check("#role-auditor")
    admin.click("#do-create")
    admin.wait_for_selector("#adm-error:not([hidden])")
    assert re.search(r"[\u4e00-\u9fff]", admin.inner_text("#roles-error")), admin.inner_text("#adm-error")
    admin.uncheck("#role-auditor")
    admin.click("#do-create")
    admin.wait_for_selector("#enrol:not([hidden])")
    assert admin.locator("#enrol-qr svg").count() == 1
    box = admin.locator("#enrol-qr svg").bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100  # drawn, big enough to scan
    secret = admin.inner_text("#enrol-secret").strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    screenshot(admin, "48-admin-account-totp-enrolment")
    admin.click("#enrol-done")
    admin.wait_for_selector("#accounts tr[data-user='heyan01']")
    # the new dispute officer signs in with the code of the enrolled secret
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    officer = ctx.new_page()
    officer.goto(f"{h['url']}/ui/login")
    officer.fill("#username", "heyan01")
    officer.fill("#password", "Quanzhou-Hall-Verify-2026!")
    officer.fill("#totp", pyotp.TOTP(secret).now())
    officer.click("button[type=submit]")
    officer.wait_for_url(f"{h['url']}/")
    assert "何燕" in officer.inner_text("header") and "核验人员" in officer.inner_text("header")
    ctx.close()
    # a clerk account (no second factor) changes its own password
    admin.fill("#username", "linqing02")
    admin.fill("#display_name", "林青")
    admin.fill("#password", "Counter-Window-Seven-77")
    admin.check("#role-clerk")
    admin.click("#do-create")
    admin.wait_for_selector("#accounts tr[data-user='linqing02']")
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    clerk = ctx.new_page()
    clerk.goto(f"{h['url']}/ui/login")
    clerk.fill("#username", "linqing02")
    clerk.fill("#password", "Counter-Window-Seven-77")
    clerk.click("button[type=submit]")
    clerk.wait_for_url(f"{h['url']}/")
    clerk.click("header nav >> text=修改密码")
    clerk.fill("#current_password", "wrong-password-here")
    clerk.fill("#new_password", "Harbour-Lantern-Festival-58")
    clerk.fill("#new_password2", "Harbour-Lantern-Festival-58")
    clerk.click("#do-password")
    clerk.wait_for_selector("#current_password-error:has-text('当前密码不正确')")
    clerk.fill("#current_password", "Counter-Window-Seven-77")
    clerk.click("#do-password")
    clerk.wait_for_selector("#pw-ok:not([hidden])")
    screenshot(clerk, "49-own-password-changed")
    clerk.click("#sign-out")
    clerk.wait_for_url("**/ui/login")
    clerk.fill("#username", "linqing02")
    clerk.fill("#password", "Harbour-Lantern-Festival-58")
    clerk.click("button[type=submit]")
    clerk.wait_for_url(f"{h['url']}/")
    ctx.close()
    # disabling it stops its sign-in at once
    admin.reload()
    admin.click("#accounts tr[data-user='linqing02'] button[data-act='disable']")
    admin.wait_for_selector("#accounts tr[data-user='linqing02'] td.acct-state:has-text('已停用')")
    r = admin.request.post(
        f"{h['url']}/auth/login", data={"username": "linqing02", "password": "Harbour-Lantern-Festival-58"}
    )
    assert r.status == 401
    screenshot(admin, "50-admin-accounts")
    assert admin.js_errors == []
    admin.context.close()
