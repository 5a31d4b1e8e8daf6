"""Print-ready HTML of a verification report (区块链核验报告) for a court or an applicant, zh-CN first.

One self-contained A4 page (inline stylesheet with ``@media print`` rules, no inline script). It reads
in the order a person needs it::

    1. 核验结论       the verdict in plain words, and what it means
    2. 核验了什么     what was checked (records, order, writers, files — with or without their content)
    3. 没有核验什么   what was not (withheld fields, files whose content was not given, the truth of what
                      the records say, the time of an act beyond "no later than its block")
    4. 逐项结果       one row per event / file, in words, times as "2026年12月2日 10:11:32 (北京时间)"
    5. 技术信息       the coordinates: chain, contract, hash suite, blocks, transactions, writers
    6. 签章           signature and seal block; the report's digest and a QR code leading to re-verification

::

    html = render_check_html(check, lang="zh", hall_name="鲤城区行政服务中心", verify_url="https://…/disputes")
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

import segno

from ledger.core.stages import Stage
from ledger.core.timefmt import long_cst
from ledger.hall.disputes import DocumentReport, StoredCheck
from ledger.verify.report import Reason, VerificationReport

__all__ = ["render_check_html"]


_T: dict[str, tuple[str, str]] = {
    "title": ("区块链核验报告", "Blockchain verification report"),
    "serial": ("办件编号", "Case serial"),
    "chain": ("链标识", "Chain id"),
    "contract": ("存证合约", "Ledger contract"),
    "suite": ("摘要算法", "Hash suite"),
    "accepting": ("受理大厅编号", "Accepting hall id"),
    "kind": ("核验对象", "Checked"),
    "kind_bundle": ("证据包（上传）", "evidence bundle (uploaded)"),
    "kind_hall": ("本厅保存的办件记录（按办件编号核验）", "this hall's records of the case (verified by serial)"),
    "kind_document": ("单份文件（上传）", "one document (uploaded)"),
    "checked_at": ("核验时间", "Checked at"),
    "checked_by": ("核验人 / 大厅", "Checked by / hall"),
    "sha": ("报告摘要（SHA-256）", "Report digest (SHA-256)"),
    "sha_note": (
        "报告摘要是本报告内容（RFC 8785 规范化 JSON）的 SHA-256 值。争议处理结论引用本报告时，该摘要写入链上记录；"
        "任何人可据此确认报告未被改动。",
        "The digest is the SHA-256 of this report's content (RFC 8785 canonical JSON). A dispute resolution that "
        "rests on this report commits the digest on chain, so anyone can confirm the report was not changed.",
    ),
    "qr_note": ("扫码重新核验", "Scan to verify again"),
    "again": (
        "重新核验：核验人员扫码登录后点击“按办件编号核验”；"
        "或在任意电脑上用“caseledger-verify”与链节点独立复核，不依赖任何大厅。",
        "To verify again: scan, sign in and choose “Verify by serial”; or run caseledger-verify with any chain "
        "node on any computer, relying on no hall.",
    ),
    "verdict": ("一、核验结论", "1. Conclusion"),
    "checked": ("二、核验了什么", "2. What was checked"),
    "not_checked": ("三、没有核验什么", "3. What was not checked"),
    "results": ("四、逐项结果", "4. Item by item"),
    "technical": ("五、技术信息", "5. Technical details"),
    "sign": ("六、签章", "6. Signature and seal"),
    "idx": ("序号", "#"),
    "stage": ("环节", "Stage"),
    "status": ("结果", "Result"),
    "writer": ("写入方地址", "Writer address"),
    "hall": ("写入大厅", "Written by hall"),
    "block": ("区块", "Block"),
    "time": ("上链时间", "On chain at"),
    "claimed": ("所称办理时间", "Claimed time"),
    "tx": ("交易", "Transaction"),
    "explain": ("说明", "Notes"),
    "file": ("文件", "File"),
    "file_kind": ("类别", "Kind"),
    "sign_officer": ("核验人员（签字）", "Verified by (signature)"),
    "sign_org": ("核验机构（盖章）", "Office (seal)"),
    "sign_date": ("日期", "Date"),
    "seal": ("（核验专用章）", "(seal)"),
    "toggle": ("English", "中文"),
    "print": ("打印", "Print"),
    "late_title": ("上链时间提示", "Anchoring time"),
    "late_note": (
        "以下事件的上链时间比记录所称办理时间晚 {hours} 小时以上：{events}。办理时间仅能证明不晚于上链时间。",
        "These events were anchored more than {hours} h after the time their records claim: {events}. "
        "The time of the act is only proven to be no later than its anchoring block.",
    ),
    "footer": (
        "本报告由区块链记录复算得出，不依赖任何一方大厅的数据库。",
        "This report is recomputed from the chain and does not rely on either hall's database.",
    ),
    # plain verdicts
    "v_match": (
        "一致：所核验的 {n} 项办理记录与区块链上的记录完全相符。",
        "Match: the {n} records checked agree exactly with the chain.",
    ),
    "v_match_means": (
        "这说明这些记录自写入区块链以来没有被改动、删除或调换顺序，且均由当时有权写入的大厅写入。",
        "This means the records have not been changed, removed or reordered since they were put on the chain, "
        "and each was written by a hall entitled to write it at the time.",
    ),
    "v_mismatch": (
        "不一致：{bad}与区块链上的记录不符（共核验 {n} 项）。",
        "Mismatch: {bad} do(es) not agree with the chain ({n} checked).",
    ),
    "v_mismatch_means": (
        "这说明所提供的上述记录在写入区块链后被改动过，或不是当时写入的记录；应以区块链上的记录为准。其余各项一致。",
        "This means the records named were changed after they went on the chain, or are not the ones written "
        "then; the chain's record prevails. The other items agree.",
    ),
    "v_incomplete": (
        "不完整：证据不全，不能认定一致（{why}）。",
        "Incomplete: the evidence is not complete and cannot be taken as a match ({why}).",
    ),
    "v_incomplete_means": (
        "已提供的部分见下表；待记录全部上链或补齐证据后应重新核验。",
        "What was given is listed below; verify again once every record is on chain or the evidence is complete.",
    ),
    "d_match": (
        "一致：上传的文件「{file}」与本办件{stage}中登记的「{name}」完全相同（{alg} 摘要相同），"
        "该登记于 {when} 写入区块链。",
        "Match: the uploaded file “{file}” is exactly the “{name}” committed in the case's {stage} "
        "(same {alg} digest), put on the chain on {when}.",
    ),
    "d_match_means": (
        "这说明该文件就是当时提交（或出具）并登记上链的文件，未被改动。",
        "This means the file is the one submitted (or issued) and committed then, unchanged.",
    ),
    "d_mismatch": (
        "不一致：上传的文件「{file}」不是本办件登记过的任何文件。",
        "Mismatch: the uploaded file “{file}” is not any file committed in this case.",
    ),
    "d_mismatch_means": (
        "这说明该文件在提交后被改动过，或不是当时提交的文件（哪怕只改动一个字节，摘要也会不同）。",
        "This means the file was changed after it was submitted, or is not the file submitted then "
        "(one changed byte changes the digest).",
    ),
    "d_superseded": (
        "注意：该文件后来已被补正材料替换（第 {index} 项，{when}），现行有效的是补正后的材料。",
        "Note: this file was later replaced by a supplement (item {index}, {when}); "
        "the supplement is the one in force.",
    ),
    # what was checked
    "c_records": (
        "办理记录 {n} 项（{stages}）：逐项用其字段与随机盐重新计算承诺值，与链上记录比对。",
        "{n} records ({stages}): each record's commitment recomputed from its fields and salts and compared "
        "with the chain.",
    ),
    "c_order": (
        "各事件的先后顺序与哈希链，以及每项由哪个大厅、在哪个区块写入。",
        "The order of the events and their hash chain, and which hall wrote each, in which block.",
    ),
    "c_writers": (
        "写入方在写入时是否为登记在册、有权写入该环节的大厅。",
        "Whether each writer was a registered hall entitled to write that stage when it wrote.",
    ),
    "c_files_content": (
        "材料文件 {n} 份：文件内容已提供，逐份计算摘要并与链上登记比对。",
        "{n} files: their content was given; each digest computed and compared with the committed list.",
    ),
    "c_files_listed": (
        "材料文件 {n} 份：核对了文件名称、类别、大小与摘要的登记与链上一致。",
        "{n} files: their listing (name, kind, size, digest) checked against the chain.",
    ),
    "c_document": (
        "上传的文件「{file}」（{size} 字节）：计算其 {alg} 摘要，查找本办件登记过的文件并验证其登记证明与链上记录。",
        "The uploaded file “{file}” ({size} bytes): its {alg} digest computed, looked up among the case's "
        "committed files, and its proof checked against the chain.",
    ),
    # what was not checked
    "n_content": (
        "其中 {n} 份文件未提供文件内容，只核对了登记信息，未核对文件本身：{files}。",
        "{n} files were not given, so only their listing was checked, not the files themselves: {files}.",
    ),
    "n_withheld": (
        "未披露的字段（只核对了其加盐摘要，内容未显示）：{fields}。",
        "Withheld fields (only their salted digests were checked; their content is not shown): {fields}.",
    ),
    "n_truth": (
        "区块链记录证明记录自上链后未被改动，不证明记录所写的内容本身属实（例如申请人提交的材料是否真实）。",
        "The chain proves a record was not changed after it went on chain; it does not prove that what the "
        "record says is true (for example, that a submitted document is genuine).",
    ),
    "n_time": (
        "记录所称的办理时间只能证明不晚于其上链时间。",
        "A record's claimed time of its act is only proven to be no later than the time it went on chain.",
    ),
    "n_other_files": (
        "只核验了上传的这一份文件，未核验本办件的其他记录与文件。",
        "Only the uploaded file was checked, not the case's other records and files.",
    ),
    # per file
    "f_content": ("一致：文件内容与链上登记相同", "match: content agrees with the chain"),
    "f_listed": ("登记一致；文件内容未提供，未核对", "listing agrees; content not given, not checked"),
    "f_bad": ("不一致", "MISMATCH"),
    "doc_file": ("上传文件", "Uploaded file"),
    "doc_committed": ("登记名称", "Committed as"),
    "digest": ("文件摘要", "File digest"),
    "item_n": ("第 {n} 项（{stage}）", "item {n} ({stage})"),
    "and": ("、", ", "),
}
_STATUS: dict[str, tuple[str, str]] = {
    "match": ("一致", "match"),
    "mismatch": ("不一致", "MISMATCH"),
    "missing_on_chain": ("链上缺失", "missing on chain"),
    "missing_from_bundle": ("证据包缺失", "missing from bundle"),
}

_CSS = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif;
       margin: 2em auto; max-width: 200mm; color: #111; font-size: 14px; line-height: 1.6; }
h1 { font-size: 22px; text-align: center; letter-spacing: .3em; margin: .2em 0; }
.hall { text-align: center; font-size: 15px; margin: 0; }
h2 { font-size: 16px; margin-top: 1.4em; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; margin-top: .5em; }
th, td { border: 1px solid #999; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #eee; } .mono { font-family: "DejaVu Sans Mono", monospace; font-size: 11px; word-break: break-all; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 1em; }
dl.meta dt { font-weight: bold; } dl.meta dd { margin: 0; }
.verdict { font-size: 18px; font-weight: bold; padding: .4em .6em; border: 2px solid; }
.ok { color: #0a5d1a; } .bad { color: #a40000; } tr.bad td { background: #fde8e8; }
.toolbar { float: right; } .toolbar a, .toolbar button { margin-left: 1em; }
.qr { float: right; text-align: center; margin: 0 0 .5em 1em; font-size: 12px; } .qr svg { width: 32mm; height: 32mm; }
.sign { display: flex; justify-content: space-between; margin-top: 2.5em; align-items: flex-end; }
.seal { width: 40mm; height: 40mm; border: 1px dashed #999; border-radius: 50%; display: flex;
        align-items: center; justify-content: center; color: #999; }
footer { clear: both; margin-top: 2em; font-size: 12px; color: #444; border-top: 1px solid #999; padding-top: .5em; }
@page { size: A4; margin: 15mm; }
@media print {
  body { margin: 0; font-size: 11px; max-width: none; } .toolbar { display: none; }
  th { background: #eee !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  tr.bad td { background: #fde8e8 !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  tr { break-inside: avoid; } h2 { break-after: avoid; } .sign { break-inside: avoid; }
}
"""


def _when(ts: int | None, lang: str) -> str:
    return "-" if ts is None else long_cst(ts, lang)


def _when_iso(stamp: str | None, lang: str) -> str:
    if not stamp:
        return "-"
    try:
        return long_cst(stamp, lang)
    except ValueError:
        return escape(stamp)


def _reasons(reasons: list[Reason], lang: str) -> str:
    return "<br>".join(escape(r.text(lang)) for r in reasons) or "-"


def _stage_word(name: str | None, zh: bool) -> str:
    if not name:
        return "-"
    try:
        st = Stage[name]
    except KeyError:
        return name
    return st.label_zh if zh else st.name.replace("_", " ").lower()


def _row(cells: list[str], bad: bool) -> str:
    return f"<tr{' class=bad' if bad else ''}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _qr(url: str) -> str:
    return segno.make(url, error="m").svg_inline(scale=3, dark="#000")


def render_check_html(
    check: StoredCheck,
    *,
    lang: str = "zh",
    hall_name: str = "",
    self_url: str = "",
    verify_url: str = "",
    hall_names: dict[int, str] | None = None,
    kind_names: dict[str, str] | None = None,
) -> str:
    """The print-ready page of one stored check (this hall's records by serial, a bundle, or one document).

    ``verify_url``: where the QR code leads to verify the case again (the hall's page of the case's
    verification); without it the QR code is left out and the re-verification sentence stays.
    ``hall_names`` / ``kind_names``: the words for hall ids and material kinds (ids and codes otherwise)."""
    zh = lang != "en"
    i = 0 if zh else 1

    def t(key: str, **kw: object) -> str:
        s = _T[key][i]
        return s.format(**kw) if kw else s

    report = check.report
    other = "en" if zh else "zh"
    base = escape(self_url or "")
    colon = "：" if zh else ": "
    kind = (
        t("kind_document") if check.kind == "document" else t("kind_hall" if check.source == "hall" else "kind_bundle")
    )
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if zh else "en"}"><head><meta charset="utf-8">',
        f"<title>{t('title')} {escape(check.serial)}</title><style>{_CSS}</style></head><body>",
        f'<div class="toolbar"><a href="{base}?lang={other}">{t("toggle")}</a>'
        f'<button type="button" id="print">{t("print")}</button></div>',
        f'<p class="hall">{escape(hall_name)}</p>' if hall_name else "",
        f"<h1>{t('title')}</h1>",
        f'<p style="text-align:center">{t("serial")}{colon}'
        f'<span class="mono" id="r-serial">{escape(check.serial)}</span>'
        f" · {t('kind')}{colon}{kind} · {t('checked_at')}{colon}{_when_iso(check.checked_at, lang)}</p>",
    ]
    words = _Names(hall_names or {}, kind_names or {})
    if check.kind == "bundle":
        parts += _bundle_sections(check.bundle_report(), t, lang, zh, words)
    else:
        parts += _document_sections(check.document_report(), t, lang, zh, words)
    meta = [
        (t("chain"), str(int(report.get("chain_id", 0)))),
        (t("contract"), f"<span class=mono>{escape(str(report.get('ledger', '')))}</span>"),
        (t("accepting"), escape(str(report.get("accepting_hall", "-")))),
        (t("suite"), escape(str(report.get("suite", "intl")))),
        (t("checked_by"), escape(f"{check.staff} / {check.hall_id} {hall_name}".strip())),
    ]
    parts.append('<dl class="meta">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta) + "</dl>")
    c = "：" if zh else ": "
    qr = f'<div class="qr" id="report-qr">{_qr(verify_url)}<div>{t("qr_note")}</div></div>' if verify_url else ""
    parts += [
        f"<h2>{t('sign')}</h2>",
        qr,
        f'<p>{t("sha")}{c}<span class="mono" id="report-digest">{escape(check.sha256)}</span></p>',
        f"<p>{t('sha_note')}</p><p>{t('again')}</p>",
        f'<div class="sign"><span>{t("sign_officer")}{c}__________</span><span>{t("sign_org")}{c}</span>'
        f'<div class="seal">{t("seal")}</div><span>{t("sign_date")}{c}__________</span></div>',
        f"<footer>{t('footer')}</footer>",
        # no inline script (the node's Content-Security-Policy allows scripts from itself only)
        '<script src="/static/js/report.js"></script></body></html>',
    ]
    return "\n".join(p for p in parts if p)


_FIELD_WORDS: dict[str, tuple[str, str]] = {
    "applicant_name": ("申请人姓名", "applicant's name"),
    "applicant_id_number": ("申请人身份证件号码", "applicant's ID number"),
    "applicant_phone": ("申请人手机号码", "applicant's phone"),
    "applicant_address": ("申请人联系地址", "applicant's address"),
    "legal_rep_name": ("法定代表人姓名", "legal representative's name"),
    "agent_name": ("代办人姓名", "agent's name"),
    "agent_id_number": ("代办人身份证件号码", "agent's ID number"),
    "agent_phone": ("代办人手机号码", "agent's phone"),
    "recipient_name": ("领取人姓名", "recipient's name"),
    "recipient_id_number": ("领取人身份证件号码", "recipient's ID number"),
    "at": ("办理时间", "time of the act"),
}
"""a withheld record field as the report names it (a field not listed keeps its name)"""


def _field_word(name: str, zh: bool) -> str:
    pair = _FIELD_WORDS.get(name)
    return name if pair is None else pair[0 if zh else 1]


class _Names:
    def __init__(self, halls: dict[int, str], kinds: dict[str, str]) -> None:
        self.halls, self.kinds = halls, kinds

    def hall(self, hall_id: int | None) -> str:
        return "-" if hall_id is None else escape(self.halls.get(hall_id, str(hall_id)))

    def kind(self, kind: str | None) -> str:
        return "-" if not kind else escape(self.kinds.get(kind, kind))


def _bundle_sections(r: VerificationReport, t: Callable[..., str], lang: str, zh: bool, words: _Names) -> list[str]:
    sep = t("and")
    n = len(r.events)
    bad_events = [e for e in r.events if e.status != "match"]
    bad_files = [m for m in r.materials if m.status != "match"]
    bad_words = [t("item_n", n=e.index, stage=_stage_word(e.stage, zh)) for e in bad_events] + [
        f"{m.name}" for m in bad_files
    ]
    if r.verdict == "match":
        plain, means, cls = t("v_match", n=n), t("v_match_means"), "ok"
    elif r.verdict == "incomplete":
        why = "；".join(x.text(lang) for x in r.reasons) or "-"
        plain, means, cls = t("v_incomplete", why=why), t("v_incomplete_means"), "bad"
    else:
        plain, means, cls = t("v_mismatch", bad=sep.join(bad_words) or "-", n=n), t("v_mismatch_means"), "bad"
    out = [
        f"<h2>{t('verdict')}</h2>",
        f'<p class="verdict {cls}" id="r-verdict">{escape(plain)}</p>',
        f'<p id="r-means">{escape(means)}</p>',
    ]
    stages = sep.join(dict.fromkeys(_stage_word(e.stage, zh) for e in r.events)) or "-"
    given = [m for m in r.materials if m.content_checked]
    listed = [m for m in r.materials if not m.content_checked]
    checked = [t("c_records", n=n, stages=stages), t("c_order"), t("c_writers")]
    if given:
        checked.append(t("c_files_content", n=len(given)))
    if listed:
        checked.append(t("c_files_listed", n=len(listed)))
    not_checked = []
    if listed:
        not_checked.append(t("n_content", n=len(listed), files=sep.join(m.name for m in listed)))
    if r.withheld_fields:
        names = sorted({f for fs in r.withheld_fields.values() for f in fs})
        not_checked.append(t("n_withheld", fields=sep.join(_field_word(f, zh) for f in names)))
    not_checked += [t("n_truth"), t("n_time")]
    out.append(f"<h2>{t('checked')}</h2><ul id='r-checked'>" + "".join(f"<li>{escape(x)}</li>" for x in checked))
    out.append(f"</ul><h2>{t('not_checked')}</h2><ul id='r-not-checked'>")
    out.append("".join(f"<li>{escape(x)}</li>" for x in not_checked) + "</ul>")
    head = "".join(f"<th>{t(k)}</th>" for k in ("idx", "stage", "status", "hall", "time", "claimed", "explain"))
    rows = [
        _row(
            [
                str(e.index),
                escape(_stage_word(e.stage, zh)),
                escape(_STATUS[e.status][0 if zh else 1]),
                words.hall(e.hall_id),
                _when(e.time, lang),
                _when_iso(e.claimed_at, lang),
                _reasons([*e.reasons, *e.findings], lang),
            ],
            e.status != "match" or bool(e.findings),
        )
        for e in r.events
    ]
    out.append(f"<h2>{t('results')}</h2><table id='r-events'><thead><tr>{head}</tr></thead>")
    out.append(f"<tbody>{''.join(rows)}</tbody></table>")
    if r.materials:
        mhead = "".join(f"<th>{t(k)}</th>" for k in ("idx", "file_kind", "file", "status", "explain"))
        mrows = [
            _row(
                [
                    str(m.event_index),
                    words.kind(m.kind),
                    escape(m.name),
                    escape(t("f_bad") if m.status != "match" else t("f_content" if m.content_checked else "f_listed")),
                    _reasons(m.reasons, lang),
                ],
                m.status != "match",
            )
            for m in r.materials
        ]
        out.append(f"<table id='r-materials'><thead><tr>{mhead}</tr></thead><tbody>{''.join(mrows)}</tbody></table>")
    late = [str(idx) for idx, f in r.findings if f.code == "anchored_late"]
    if late:
        note = t("late_note").format(hours=f"{r.max_anchor_lag_s / 3600:g}", events=", ".join(late))
        out.append(f'<h3>{t("late_title")}</h3><p class="late">{escape(note)}</p>')
    if r.reasons:
        out.append("<ul>" + "".join(f"<li>{escape(x.text(lang))}</li>" for x in r.reasons) + "</ul>")
    thead = "".join(f"<th>{t(k)}</th>" for k in ("idx", "block", "tx", "writer"))
    trows = "".join(
        _row(
            [
                str(e.index),
                str(e.block if e.block is not None else "-"),
                f"<span class=mono>{escape(e.tx or '-')}</span>",
                f"<span class=mono>{escape(e.writer or '-')}</span>",
            ],
            False,
        )
        for e in r.events
    )
    out.append(f"<h2>{t('technical')}</h2><table id='r-coords'><thead><tr>{thead}</tr></thead>")
    out.append(f"<tbody>{trows}</tbody></table>")
    return out


def _document_sections(d: DocumentReport, t: Callable[..., str], lang: str, zh: bool, words: _Names) -> list[str]:
    alg = "SHA-256" if d.suite == "intl" else "SM3"
    stage = t("item_n", n=d.event_index, stage=_stage_word(d.stage, zh)) if d.event_index is not None else "-"
    if d.ok:
        plain = t(
            "d_match", file=d.file_name, stage=stage, name=d.committed_name or "-", alg=alg, when=_when(d.time, lang)
        )
        means, cls = t("d_match_means"), "ok"
    else:
        plain, means, cls = t("d_mismatch", file=d.file_name), t("d_mismatch_means"), "bad"
    out = [
        f"<h2>{t('verdict')}</h2>",
        f'<p class="verdict {cls}" id="r-verdict">{escape(plain)}</p>',
        f'<p id="r-means">{escape(means)}</p>',
    ]
    if d.superseded_by is not None:
        sup = t("d_superseded", index=d.superseded_by, when=_when(d.superseded_time, lang))
        out.append(f'<p class="verdict bad" id="r-superseded">{escape(sup)}</p>')
    out.append(f"<h2>{t('checked')}</h2><ul id='r-checked'>")
    out.append(f"<li>{escape(t('c_document', file=d.file_name, size=d.size, alg=alg))}</li></ul>")
    out.append(f"<h2>{t('not_checked')}</h2><ul id='r-not-checked'>")
    out.append("".join(f"<li>{escape(x)}</li>" for x in (t("n_other_files"), t("n_truth"))) + "</ul>")
    rows = [
        (t("doc_file"), escape(f"{d.file_name} ({d.size} B)")),
        (t("digest") + f"（{alg}）", f"<span class=mono>{escape(d.digest)}</span>"),
        (t("doc_committed"), f"{words.kind(d.kind)} {escape(d.committed_name or '')}"),
        (t("stage"), escape(stage)),
        (t("status"), escape(_STATUS[d.status][0 if zh else 1])),
        (t("explain"), _reasons(d.reasons, lang)),
        (t("time"), _when(d.time, lang)),
        (t("hall"), words.hall(d.hall_id)),
        (t("block"), str(d.block if d.block is not None else "-")),
        (t("tx"), f"<span class=mono>{escape(d.tx or '-')}</span>"),
        (t("writer"), f"<span class=mono>{escape(d.writer or '-')}</span>"),
    ]
    body = "".join(_row([f"<b>{k}</b>", v], d.status != "match" and k == t("status")) for k, v in rows)
    return [*out, f"<h2>{t('results')}</h2><table id='r-document'><tbody>{body}</tbody></table>"]
