"""Issue 19, "reason texts mix Chinese and English": every text a staff member or a court reads in Chinese is
fully Chinese, and its English twin fully English.

Walked: the error catalogue (ledger/messages.py), the verifier's reasons and what a file's verdict rests on
(ledger/verify/report.py) — and the reasons the verifier actually gives, detail included, over every
conformance vector —, the printed report's labels, the audit anomaly kinds and details, the export words,
and the pages' texts (node_api/pages/i18n.py). A Chinese text may keep the short, explicit list of Latin
words staff use as they are (:data:`ledger.messages.ZH_LATIN_ALLOWED`: PDF, CSV, ID, TOTP, ...), a code in
brackets beside its Chinese name, a command-line option and numbers, hashes and serials.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from ledger.core.bundle import parse_bundle, parse_bundle_bytes
from ledger.core.facts import ChainFacts, MerkleFacts
from ledger.errors import InputError
from ledger.hall import report_html
from ledger.hall.audit import ANOMALY_TEXT, AuditThresholds, outbox_anomalies
from ledger.hall.exports import COMPLIANCE_WORDS, STATUS_WORDS
from ledger.hall.workdays import APPROXIMATE_NOTE, APPROXIMATE_NOTE_EN
from ledger.messages import MESSAGES, ROLE_NAMES_ZH, ZH_LATIN_ALLOWED, foreign_words
from ledger.verify.checks import verify_bundle
from ledger.verify.merkle import verify_merkle_bundle
from ledger.verify.report import CHECKED_TEXT, DETAIL_ZH, Reason, VerificationReport, detail_zh
from ledger.verify.report import MESSAGES as REASONS
from node_api.pages.i18n import TEXT
from tests.conftest import VECTORS

CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
NOT_CHINESE = {"page:switch_lang"}  # the language switch names the other language: "English"
NOT_ENGLISH = {"page:switch_lang", "report:toggle"}  # ... and "中文"
FILE_NAME = re.compile(r"[^\s/]+\.[A-Za-z0-9]{2,5}")  # a material's own name is data, in whatever language


def _pairs() -> Iterator[tuple[str, str, str]]:
    for k, m in MESSAGES.items():
        yield f"messages:{k}", m.zh, m.en
    for k, (zh, en) in REASONS.items():
        yield f"reasons:{k}", zh, en
    for k, (zh, en) in CHECKED_TEXT.items():
        yield f"checked:{k}", zh, en
    for k, (zh, en) in ANOMALY_TEXT.items():
        yield f"anomaly:{k}", zh, en
    for words, name in ((COMPLIANCE_WORDS, "compliance"), (STATUS_WORDS, "status")):
        for k, (zh, en) in words.items():
            yield f"{name}:{k}", zh, en
    for k, (zh, en) in report_html._T.items():
        yield f"report:{k}", zh, en
    for k, (zh, en) in report_html._STATUS.items():
        yield f"report_status:{k}", zh, en
    for k, (zh, en) in TEXT.items():
        yield f"page:{k}", zh, en
    yield "approximate_note", APPROXIMATE_NOTE, APPROXIMATE_NOTE_EN
    for k, zh in ROLE_NAMES_ZH.items():
        yield f"role:{k}", zh, k


PAIRS = list(_pairs())


def test_the_allow_list_stays_short() -> None:
    assert len(ZH_LATIN_ALLOWED) <= 25
    assert foreign_words("写入方无权写入该环节（not the accepting hall）") == ["not", "the", "accepting", "hall"]
    assert foreign_words("记录未载明办理时间（at）") == [] and foreign_words("只接受 PDF 文件") == []


def test_no_chinese_text_of_the_catalogues_holds_english_words() -> None:
    mixed = {key: foreign_words(zh) for key, zh, _ in PAIRS if foreign_words(zh) and key not in NOT_CHINESE}
    assert not mixed, mixed


def test_no_english_text_of_the_catalogues_holds_chinese() -> None:
    mixed = {key: en for key, _, en in PAIRS if CJK.search(en) and key not in NOT_ENGLISH}
    assert not mixed, mixed


def test_every_detail_phrase_has_a_fully_chinese_translation() -> None:
    for pattern, zh in DETAIL_ZH:
        assert not foreign_words(re.sub(r"\{\d\}", "", zh)), (pattern, zh)
        assert not CJK.search(pattern), pattern


def _report(path_text: str) -> VerificationReport | None:
    v = json.loads(path_text)
    try:
        raw = v["bundle_text"].encode("utf-8") if "bundle_text" in v else None
        bundle = parse_bundle_bytes(raw) if raw is not None else parse_bundle(v["bundle"])
        lag = v["max_anchor_lag_s"]
        if v["chain"].get("mode") == "merkle":
            return verify_merkle_bundle(bundle, MerkleFacts.model_validate(v["chain"]), max_anchor_lag_s=lag)
        return verify_bundle(bundle, ChainFacts.model_validate(v["chain"]), max_anchor_lag_s=lag)
    except InputError:
        return None


def _reasons(report: VerificationReport) -> Iterator[Reason]:
    yield from report.reasons
    for e in report.events:
        yield from e.reasons
        yield from e.findings
    for m in report.materials:
        yield from m.reasons


def test_the_verifiers_reasons_are_chinese_in_chinese_and_english_in_english() -> None:
    """Every reason the verifier gives over the conformance vectors, with the detail it wrote."""
    seen = 0
    for path in sorted((VECTORS / "bundles").glob("*.json")):
        report = _report(path.read_text(encoding="utf-8"))
        for r in _reasons(report) if report is not None else ():
            seen += 1
            assert not foreign_words(r.text("zh")), (path.stem, r, r.text("zh"))
            en = r.text("en").replace(r.detail, "") if FILE_NAME.fullmatch(r.detail) else r.text("en")
            assert not CJK.search(en), (path.stem, r, en)
    assert seen >= 50  # the vectors do reach the reasons


def test_details_the_vectors_do_not_reach_are_said_in_chinese_or_left_out() -> None:
    cases = {
        "not a hall of the home district": "不是属地区县的大厅",
        "DELIVERY in phase ACCEPTED": "办件处于“已受理”时写入结果送达",
        "the header counts 5 events, the endpoint returned 4": "办件头登记 5 个事件，链节点返回 4 个",
        "batch 2/7: connection refused": "批次 2/7",
        "not a file committed in this case": "不是本办件登记的文件",
        "id_card.pdf": "id_card.pdf",
        "Expecting value: line 1 column 1 (char 0)": "",
    }
    assert {d: detail_zh(d) for d in cases} == cases
    assert Reason(code="record_malformed", detail="Expecting value").text("zh") == "记录格式错误"


def test_anomaly_details_have_their_chinese() -> None:
    stale = outbox_anomalies(
        [{"serial": "TB-1", "seq": 4, "stage": "RESULT", "created_at": 0.0}],
        now=3600.0,
        thresholds=AuditThresholds(outbox_after_s=60),
    )
    assert [a.detail_text("zh") for a in stale] == ["待上链队列第 4 项已等待 3600 秒"]
    assert stale[0].detail_text("en") == "outbox entry 4 waiting for 3600 s"


def test_the_printed_reports_plain_sections_are_fully_chinese() -> None:
    """一、 to 四、 of the printed report (for a court or an applicant) over every vector; 五、技术信息 holds
    the chain's coordinates as they are. Material kinds are named as the hall's route names them."""
    from html import unescape

    from ledger.hall.report_html import render_check_html
    from tests.unit.test_report_html import _check

    kinds = {"application": "申请表", "contract": "买卖合同", "certificate": "不动产权证书"}  # the scenario's kinds
    rendered = 0
    for path in sorted((VECTORS / "bundles").glob("*.json")):
        report = _report(path.read_text(encoding="utf-8"))
        if report is None:
            continue
        html = render_check_html(_check(report), lang="zh", kind_names=kinds)
        plain = html.split("<body")[-1].split("五、技术信息")[0]
        lines = unescape(re.sub(r"<[^>]+>", "\n", re.sub(r"<(style|script)[^>]*>.*?</\1>", "", plain, flags=re.S)))
        mixed = [ln.strip() for ln in lines.splitlines() if foreign_words(ln)]
        assert not mixed, (path.stem, mixed)
        rendered += 1
    assert rendered >= 30
