"""The printed verification report (issue 19): plain words first, what was and was not checked, times on
paper as "2026年12月2日 10:11:32 (北京时间)", a signature and seal block, the digest and a QR code."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html import unescape

from ledger.core.timefmt import long_cst
from ledger.dev.scenario import Scenario
from ledger.hall.disputes import StoredCheck
from ledger.hall.report_html import render_check_html
from ledger.verify.checks import verify_bundle
from ledger.verify.report import VerificationReport

STD = Scenario.standard()


def _check(report: VerificationReport, source: str = "hall") -> StoredCheck:
    return StoredCheck(
        kind="bundle",
        source=source,  # type: ignore[arg-type]
        serial=STD.serial,
        sha256="ab" * 32,
        verdict=report.verdict,
        checked_at="2026-12-02T10:11:32+08:00",
        staff="dispute",
        hall_id=1,
        report=json.loads(report.model_dump_json()),
    )


def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def test_long_cst_is_the_paper_form() -> None:
    assert long_cst("2026-12-02T02:11:32+00:00") == "2026年12月2日 10:11:32 (北京时间)"
    assert long_cst(1796177492, "en") == "2 December 2026 10:11:32 (Beijing time)"


def test_a_matching_report_says_it_plainly_first_then_what_was_and_was_not_checked() -> None:
    report = verify_bundle(*STD.build())
    assert report.verdict == "match"
    html = render_check_html(_check(report), lang="zh", hall_name="鲤城区行政服务中心", verify_url="http://h/ui/x")
    text = _text(html)
    order = [
        text.index(s)
        for s in ("一、核验结论", "二、核验了什么", "三、没有核验什么", "四、逐项结果", "五、技术信息", "六、签章")
    ]
    assert order == sorted(order)
    assert f"一致：所核验的 {len(report.events)} 项办理记录与区块链上的记录完全相符" in text
    assert "不证明记录所写的内容本身属实" in text  # what the chain does not prove is said
    assert "2026年12月2日 10:11:32 (北京时间)" in text  # checked at, on paper
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d:\d\d \(北京时间\)", text.split("四、逐项结果")[1])
    assert "内容已核对" not in text and "：否" not in text
    assert "核验人员（签字）" in text and "核验机构（盖章）" in text
    assert 'id="report-digest">' + "ab" * 32 in html and "<svg" in html  # digest and QR code
    assert "本厅保存的办件记录（按办件编号核验）" in text


def test_files_whose_content_was_not_given_are_said_not_checked_not_matched() -> None:
    report = verify_bundle(*replace(STD, include_files=False).build())
    listed = [m for m in report.materials if not m.content_checked]
    assert listed and all(m.status == "match" for m in listed)
    text = _text(render_check_html(_check(report, "upload"), lang="zh"))
    assert f"其中 {len(listed)} 份文件未提供文件内容，只核对了登记信息，未核对文件本身" in text
    assert "登记一致；文件内容未提供，未核对" in text
    assert "<svg" not in render_check_html(_check(report), lang="zh")  # no QR without a place to verify again


def test_a_mismatch_names_the_item_and_says_what_it_means_in_english_too() -> None:
    bundle, facts = STD.replace_step(2, writer="hall_c").build()
    report = verify_bundle(bundle, facts)
    assert report.verdict == "mismatch"
    zh = _text(render_check_html(_check(report), lang="zh"))
    assert "不一致：第 2 项（受理信息）与区块链上的记录不符" in zh and "应以区块链上的记录为准" in zh
    en = _text(render_check_html(_check(report), lang="en"))
    assert "Mismatch: item 2 (acceptance)" in en and "(Beijing time)" in en and "the chain's record prevails" in en
