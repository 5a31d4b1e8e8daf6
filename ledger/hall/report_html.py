"""Print-ready HTML of a verification report (区块链核验报告), zh-CN first, English with ``lang="en"``.

One self-contained page (inline stylesheet with ``@media print`` rules, A4, no scripts), carrying the
case serial, chain coordinates, the report's SHA-256, the overall verdict and one row per event
(stage, verdict, writer, hall, block, time, transaction, reasons)::

    html = render_check_html(check, lang="zh", hall_name="鲤城区行政服务中心")
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from ledger.core.stages import Stage
from ledger.core.timefmt import unix_to_cst
from ledger.hall.disputes import DocumentReport, StoredCheck
from ledger.verify.report import Reason, VerificationReport

__all__ = ["render_check_html"]


_T: dict[str, tuple[str, str]] = {
    "title": ("区块链核验报告", "Blockchain verification report"),
    "serial": ("办件编号", "Case serial"),
    "chain": ("链标识", "Chain id"),
    "contract": ("存证合约", "Ledger contract"),
    "kind": ("核验对象", "Checked"),
    "kind_bundle": ("证据包", "evidence bundle"),
    "kind_document": ("单份文件", "single document"),
    "checked_at": ("核验时间", "Checked at"),
    "checked_by": ("核验人 / 大厅", "Checked by / hall"),
    "sha": ("报告摘要 (SHA-256, RFC 8785)", "Report digest (SHA-256, RFC 8785)"),
    "verdict": ("结论", "Verdict"),
    "all_match": ("全部一致：证据与链上记录相符", "All match: the evidence agrees with the chain"),
    "some_mismatch": ("存在不一致：见下表标红事件", "Mismatch found: see the events marked below"),
    "incomplete": ("证据不完整，不能认定一致", "Incomplete: cannot be taken as a match"),
    "late_title": ("上链时间提示", "Anchoring time"),
    "late_note": (
        "以下事件的上链时间比记录所称办理时间晚 {hours} 小时以上：{events}。办理时间仅能证明不晚于上链时间。",
        "These events were anchored more than {hours} h after the time their records claim: {events}. "
        "The time of the act is only proven to be no later than its anchoring block.",
    ),
    "claimed": ("所称办理时间", "Claimed time"),
    "lag": ("间隔", "Lag"),
    "suite": ("摘要算法", "Hash suite"),
    "accepting": ("受理大厅", "Accepting hall"),
    "events": ("逐事件核验结果", "Per-event results"),
    "materials": ("材料与结果文件", "Materials and result documents"),
    "withheld": ("未披露字段（仅提供加盐叶哈希）", "Withheld fields (salted leaf hash only)"),
    "idx": ("序号", "#"),
    "stage": ("环节", "Stage"),
    "status": ("结论", "Verdict"),
    "writer": ("写入方", "Writer"),
    "hall": ("大厅", "Hall"),
    "block": ("区块", "Block"),
    "time": ("时间（北京时间）", "Time (UTC+8)"),
    "tx": ("交易", "Transaction"),
    "reasons": ("原因", "Reasons"),
    "file": ("文件", "File"),
    "file_kind": ("类别", "Kind"),
    "content": ("内容已核对", "Content checked"),
    "doc_file": ("上传文件", "Uploaded file"),
    "doc_committed": ("登记名称", "Committed as"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "toggle": ("English", "中文"),
    "print": ("打印", "Print"),
    "footer": (
        "本报告由区块链记录复算得出，不依赖任何一方大厅的数据库；任何人可用 caseledger-verify 与链节点独立复核。",
        "This report is recomputed from the chain and does not rely on either hall's database; anyone can "
        "re-check it independently with caseledger-verify and a chain node.",
    ),
}
_STATUS: dict[str, tuple[str, str]] = {
    "match": ("一致", "match"),
    "mismatch": ("不一致", "MISMATCH"),
    "missing_on_chain": ("链上缺失", "missing on chain"),
    "missing_from_bundle": ("证据包缺失", "missing from bundle"),
}

_CSS = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif;
       margin: 2em; color: #111; font-size: 14px; }
h1 { font-size: 22px; margin-bottom: .2em; } h2 { font-size: 16px; margin-top: 1.5em; }
table { border-collapse: collapse; width: 100%; margin-top: .5em; }
th, td { border: 1px solid #999; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #eee; } .mono { font-family: monospace; font-size: 11px; word-break: break-all; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 1em; }
dl.meta dt { font-weight: bold; } dl.meta dd { margin: 0; }
.verdict { font-size: 18px; font-weight: bold; padding: .4em .6em; border: 2px solid; display: inline-block; }
.ok { color: #0a5d1a; } .bad { color: #a40000; } tr.bad td { background: #fde8e8; }
.toolbar { float: right; } .toolbar a, .toolbar button { margin-left: 1em; }
footer { margin-top: 2em; font-size: 12px; color: #444; border-top: 1px solid #999; padding-top: .5em; }
@page { size: A4; margin: 15mm; }
@media print {
  body { margin: 0; font-size: 11px; } .toolbar { display: none; }
  th { background: #eee !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  tr.bad td { background: #fde8e8 !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  tr { break-inside: avoid; } h2 { break-after: avoid; }
}
"""


def _when(ts: int | None) -> str:
    return "-" if ts is None else unix_to_cst(ts)


def _lag(s: int | None) -> str:
    if s is None:
        return "-"
    return f"{s // 3600} h {s % 3600 // 60:02d} min" if abs(s) >= 3600 else f"{s} s"


def _reasons(reasons: list[Reason], lang: str) -> str:
    return "<br>".join(escape(r.text(lang)) for r in reasons) or "-"


def _stage(name: str, zh: bool) -> str:
    try:
        st = Stage[name]
    except KeyError:
        return escape(name)
    return escape(f"{st.label_zh}（{st.name}）" if zh else st.name)


def _row(cells: list[str], bad: bool) -> str:
    return f"<tr{' class=bad' if bad else ''}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def render_check_html(check: StoredCheck, *, lang: str = "zh", hall_name: str = "", self_url: str = "") -> str:
    """The print-ready page of one stored check (a bundle or a single-document verification)."""
    zh = lang != "en"
    i = 0 if zh else 1

    def t(key: str) -> str:
        return _T[key][i]

    report = check.report
    ok = check.verdict == "match"
    verdict_text = t("all_match") if ok else t("incomplete") if check.verdict == "incomplete" else t("some_mismatch")
    other = "en" if zh else "zh"
    base = escape(self_url or "")
    meta = [
        (t("serial"), escape(check.serial)),
        (t("chain"), str(int(report.get("chain_id", 0)))),
        (t("contract"), f"<span class=mono>{escape(str(report.get('ledger', '')))}</span>"),
        (t("accepting"), escape(str(report.get("accepting_hall", "-")))),
        (t("suite"), escape(str(report.get("suite", "intl")))),
        (t("kind"), t("kind_bundle") if check.kind == "bundle" else t("kind_document")),
        (t("checked_at"), escape(check.checked_at)),
        (t("checked_by"), escape(f"{check.staff} / {check.hall_id} {hall_name}".strip())),
        (t("sha"), f"<span class=mono>{escape(check.sha256)}</span>"),
    ]
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if zh else "en"}"><head><meta charset="utf-8">',
        f"<title>{t('title')} {escape(check.serial)}</title><style>{_CSS}</style></head><body>",
        f'<div class="toolbar"><a href="{base}?lang={other}">{t("toggle")}</a>'
        f'<button type="button" id="print">{t("print")}</button></div>',
        f"<h1>{t('title')}</h1>",
        '<dl class="meta">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta) + "</dl>",
        f'<h2>{t("verdict")}</h2><p class="verdict {"ok" if ok else "bad"}">{verdict_text}</p>',
    ]
    if check.kind == "bundle":
        parts += _bundle_sections(check.bundle_report(), t, lang, zh)
    else:
        parts += _document_section(check.document_report(), t, lang, zh)
    # no inline script (the node's Content-Security-Policy allows scripts from itself only)
    parts.append(f'<footer>{t("footer")}</footer><script src="/static/js/report.js"></script></body></html>')
    return "\n".join(parts)


def _bundle_sections(r: VerificationReport, tr: Callable[[str], str], lang: str, zh: bool) -> list[str]:
    head = "".join(
        f"<th>{tr(k)}</th>"
        for k in ("idx", "stage", "status", "writer", "hall", "block", "time", "claimed", "lag", "tx", "reasons")
    )
    rows = [
        _row(
            [
                str(e.index),
                _stage(e.stage, zh),
                escape(_STATUS[e.status][0 if zh else 1]),
                f"<span class=mono>{escape(e.writer or '-')}</span>",
                str(e.hall_id if e.hall_id is not None else "-"),
                str(e.block if e.block is not None else "-"),
                _when(e.time),
                _when(e.claimed_time),
                _lag(e.lag_s),
                f"<span class=mono>{escape(e.tx or '-')}</span>",
                _reasons([*e.reasons, *e.findings], lang),
            ],
            e.status != "match" or bool(e.findings),
        )
        for e in r.events
    ]
    out = [f"<h2>{tr('events')}</h2><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"]
    late = [str(idx) for idx, f in r.findings if f.code == "anchored_late"]
    if late:
        note = tr("late_note").format(hours=f"{r.max_anchor_lag_s / 3600:g}", events=", ".join(late))
        out.append(f'<h2>{tr("late_title")}</h2><p class="late">{escape(note)}</p>')
    if r.reasons:
        out.append("<ul>" + "".join(f"<li>{escape(x.text(lang))}</li>" for x in r.reasons) + "</ul>")
    if r.materials:
        mhead = "".join(f"<th>{tr(k)}</th>" for k in ("idx", "file_kind", "file", "status", "content", "reasons"))
        mrows = [
            _row(
                [
                    str(m.event_index),
                    escape(m.kind),
                    escape(m.name),
                    escape(_STATUS[m.status][0 if zh else 1]),
                    tr("yes") if m.content_checked else tr("no"),
                    _reasons(m.reasons, lang),
                ],
                m.status != "match",
            )
            for m in r.materials
        ]
        out.append(
            f"<h2>{tr('materials')}</h2><table><thead><tr>{mhead}</tr></thead><tbody>{''.join(mrows)}</tbody></table>"
        )
    if r.withheld_fields:
        items = "".join(f"<li>{idx}: {escape(', '.join(fs))}</li>" for idx, fs in sorted(r.withheld_fields.items()))
        out.append(f"<h2>{tr('withheld')}</h2><ul>{items}</ul>")
    return out


def _document_section(d: DocumentReport, tr: Callable[[str], str], lang: str, zh: bool) -> list[str]:
    rows = [
        (tr("doc_file"), escape(f"{d.file_name} ({d.size} B)")),
        ("SHA-256" if d.suite == "intl" else "SM3", f"<span class=mono>{escape(d.digest)}</span>"),
        (tr("doc_committed"), escape(f"{d.kind or '-'} {d.committed_name or ''}")),
        (tr("stage"), _stage(d.stage, zh) if d.stage else "-"),
        (tr("idx"), str(d.event_index if d.event_index is not None else "-")),
        (tr("writer"), f"<span class=mono>{escape(d.writer or '-')}</span>"),
        (tr("hall"), str(d.hall_id if d.hall_id is not None else "-")),
        (tr("block"), str(d.block if d.block is not None else "-")),
        (tr("time"), _when(d.time)),
        (tr("tx"), f"<span class=mono>{escape(d.tx or '-')}</span>"),
        (tr("status"), escape(_STATUS[d.status][0 if zh else 1])),
        (tr("reasons"), _reasons(d.reasons, lang)),
    ]
    body = "".join(_row([f"<b>{k}</b>", v], False) for k, v in rows)
    return [f"<h2>{tr('events')}</h2><table><tbody>{body}</tbody></table>"]
