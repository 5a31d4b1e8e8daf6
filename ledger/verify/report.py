"""The verifier's answer: a verdict per event and per material file, with reasons and findings in
zh-CN and English.

``Reason.code`` is one of :data:`MESSAGES`; every code, its meaning and the exit code it leads to are
tabulated in docs/verification.md (a unit test keeps the table and this dictionary equal).
A *reason* makes its event (or the bundle) a mismatch or incomplete; a *finding* is reported
without changing the verdict.

A reason's ``detail`` is written in English (numbers, hashes and stage names as the chain has them); the
Chinese sentence says it in Chinese through :func:`detail_zh` — a catalogue of the detail phrases the
checks write (:data:`DETAIL_ZH`) — and leaves out a detail it has no Chinese for (an exception's text):
a Chinese reason never mixes in an English phrase.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ledger.core.stages import Phase, Stage
from ledger.messages import foreign_words

__all__ = [
    "CHAIN_READ",
    "CHECKED_TEXT",
    "DETAIL_ZH",
    "FINDINGS",
    "INCOMPLETE",
    "MESSAGES",
    "BundleVerdict",
    "EventVerdict",
    "MaterialVerdict",
    "Reason",
    "Status",
    "VerificationReport",
    "detail_zh",
]

Status = Literal["match", "mismatch", "missing_on_chain", "missing_from_bundle"]
BundleVerdict = Literal["match", "mismatch", "incomplete"]

# zh-CN first, English second.
MESSAGES: dict[str, tuple[str, str]] = {
    # per event: the record
    "record_mismatch": ("记录内容与链上承诺不符", "record content does not match the on-chain commitment"),
    "record_malformed": ("记录格式错误", "record is malformed"),
    "record_absent": ("证据包未提供该记录内容", "the bundle does not include this record's content"),
    "serial_mismatch": ("记录所属办件编号不符", "record belongs to another case"),
    "stage_mismatch": ("记录环节与链上环节不符", "record stage differs from the on-chain stage"),
    "claimed_time_missing": ("记录未载明办理时间（at）", "record states no time of its act (at)"),
    "time_after_anchor": ("记录所称办理时间晚于上链区块时间", "the record's claimed time is later than its block"),
    "intake_commitment_mismatch": (
        "记录所属的受理登记与本案第0号事件不符（疑似挪用他案材料）",
        "record is bound to another intake than this case's event 0",
    ),
    "resolves_mismatch": ("争议处理记录所指争议与链上不符", "resolution record names another dispute than the chain"),
    # per event: the bundle's coordinates against the chain
    "writer_mismatch": ("写入方与链上记录不符", "writer differs from the chain"),
    "hall_mismatch": ("大厅编号与链上记录不符", "hall id differs from the chain"),
    "block_mismatch": ("区块号与链上记录不符", "block number differs from the chain"),
    "time_mismatch": ("时间与链上区块时间不符", "time differs from the block time"),
    "tx_mismatch": ("交易哈希与链上记录不符", "transaction hash differs from the chain"),
    "commitment_mismatch": ("承诺值与链上记录不符", "commitment differs from the chain"),
    "head_mismatch": ("哈希链头与链上记录不符", "hash-chain head differs from the chain"),
    "ref_mismatch": ("所指争议序号与链上记录不符", "dispute reference differs from the chain"),
    # per event: the chain's own rules, re-checked
    "chain_head_broken": ("链上哈希链无法复算", "the on-chain hash chain does not recompute"),
    "chain_link_broken": (
        "链上事件的回溯链接（prevBlock）未指向上一事件所在区块",
        "the event's back-link (prevBlock) does not name the block of the event before it",
    ),
    "log_hall_mismatch": (
        "链上日志的大厅编号与当时登记册中写入方所属大厅不符",
        "the log's hall id is not the writer's hall in the registry at that point",
    ),
    "ref_not_allowed": ("该环节的争议序号（ref）应为 0", "ref must be 0 on this stage"),
    "too_many_disputes": (
        "同一提起方在本案中未结争议已达 3 项，不得再提起",
        "this opener already had 3 open disputes on the case",
    ),
    "writer_inactive": ("写入时该密钥不是有效大厅密钥", "writer key was not an active hall key at that block"),
    "writer_no_right": ("写入方无权写入该环节", "writer had no right to write this stage"),
    "out_of_order": ("环节顺序不符合办件流程", "stage out of lifecycle order"),
    "dispute_ref_invalid": ("争议处理所指的不是一项未结争议", "the resolution names no open dispute"),
    "dispute_not_opener": (
        "争议处理方既非该争议的提起方，也不是争议仲裁方",
        "the resolution comes neither from the dispute's opener nor from an arbiter",
    ),
    "missing_on_chain": ("链上无此事件", "event not found on chain"),
    "missing_from_bundle": ("证据包缺少链上已有的事件", "event on chain is missing from the bundle"),
    # materials
    "material_mismatch": ("材料证明不成立", "material proof does not hold"),
    "material_content_mismatch": ("材料文件内容与登记不符", "material file differs from what was committed"),
    "material_event_invalid": (
        "材料所指的事件不是已核验的材料记录或结果记录",
        "material refers to no verified MATERIALS or RESULT record",
    ),
    "material_tree_size_mismatch": (
        "材料证明的文件总数与记录登记的数量不符",
        "the proof's tree size differs from the file count its record commits to",
    ),
    # Merkle mode: the event against its batch
    "batch_proof_invalid": (
        "事件不在其批次的链上根之下（叶子、证明或根不符）",
        "the event is not under its batch's on-chain root (wrong leaf, proof or root)",
    ),
    "batch_link_broken": (
        "事件的回链所指批次不是上一事件所在批次",
        "the event's back-link names another batch than the one holding the previous event",
    ),
    "batch_order": ("事件上链早于其前一事件（批次顺序被调换）", "the event was anchored before the event preceding it"),
    "intake_leaf_mismatch": (
        "受理登记记录与其批次叶子所载的属地、事项或受理大厅不符",
        "the INTAKE record states another home district, item or accepting hall than its leaf",
    ),
    "not_canonical": (
        "该事件不在本案链上的正式事件链中（另一分支）",
        "the event is not the case's canonical event at this index (another branch)",
    ),
    "case_in_both_modes": (
        "同一办件编号在逐事件上链模式下也已存在",
        "the same case id also exists on chain in event mode",
    ),
    # the bundle as a whole: the chain's answers disagree with themselves (mismatch)
    "chain_read_incomplete": (
        "链节点返回的事件数与办件头登记的事件数不符（节点遗漏了事件）",
        "the endpoint returned another number of events than the case header counts",
    ),
    "chain_header_mismatch": (
        "办件头（caseHeader）与链节点返回的事件不符",
        "the case header disagrees with the events the endpoint returned",
    ),
    "registry_read_incomplete": (
        "登记册变更记录的回溯链接不连贯（节点遗漏了变更）",
        "the registry's back-links do not join up: the endpoint left changes out",
    ),
    # the bundle as a whole: incomplete
    "bundle_empty": ("证据包中没有任何事件", "the bundle holds no events"),
    "case_unknown": ("链上没有该办件", "the chain does not know this case"),
    "records_not_anchored": ("部分记录尚未上链", "some of the case's records are not anchored yet"),
    "completeness_unproven": (
        "无法证明本案没有其他事件：需要各大厅的批次清单（--manifests）",
        "cannot prove the case has no other events: every hall's batch manifests are needed (--manifests)",
    ),
    "manifest_unavailable": (
        "有批次清单无法取得或与链上根不符，不能证明完整",
        "a batch manifest could not be obtained or does not match its on-chain root: completeness not proven",
    ),
    "batch_chain_broken": (
        "读取到的某大厅批次序列不连续，不能证明完整",
        "a hall's batches as read do not follow each other: completeness not proven",
    ),
    "deployment_untrusted": (
        "合约地址取自证据包本身，未对照联盟公布的部署信息核实，不能认定为联盟链上的记录",
        "the contract addresses were taken from the bundle itself, not from the consortium's published "
        "deployment: this cannot be taken as the consortium's record",
    ),
    # findings (do not change the verdict)
    "anchored_late": (
        "上链时间远晚于所称办理时间：办理时间仅能证明不晚于上链时间",
        "anchored long after the claimed time: the act is only proven to be no later than its block",
    ),
    "orphan_leaf": (
        "批次中有本案的另一叶子不在正式事件链中（并发写入后重新上链，或大厅分叉）",
        "a batch holds another leaf of this case outside its chain (re-anchored after a race, or a fork)",
    ),
}

INCOMPLETE = frozenset(
    {
        "bundle_empty",
        "case_unknown",
        "records_not_anchored",
        "deployment_untrusted",
        "completeness_unproven",
        "manifest_unavailable",
        "batch_chain_broken",
    }
)
CHAIN_READ = frozenset({"chain_read_incomplete", "chain_header_mismatch", "registry_read_incomplete"})
"""bundle-level codes that make the verdict a mismatch: the chain's answers disagree with themselves"""
FINDINGS = frozenset({"anchored_late", "orphan_leaf"})


DETAIL_ZH: list[tuple[str, str]] = [
    (r"index (\d+)", "第 {0} 号事件"),
    (r"index (\d+) anchored before index (\d+)", "第 {0} 号事件早于第 {1} 号事件上链"),
    (r"index (\d+) in batch (\S+)", "第 {0} 号事件，批次 {1}"),
    (r"prevBlock (\d+)", "所指上一区块 {0}"),
    (r"INTAKE after index 0", "基本信息不是第 0 号事件"),
    (r"(\S+) before INTAKE", "{0}早于基本信息"),
    (r"not the accepting hall", "不是受理大厅"),
    (r"not a hall of the home district", "不是属地区县的大厅"),
    (r"ref (-?\d+) on (\S+)", "{1}的争议序号为 {0}"),
    (r"ref (-?\d+)", "争议序号 {0}"),
    (r"(\S+) in phase (\S+)", "办件处于“{1}”时写入{0}"),
    (r"dispute officer role", "须为核验人员角色"),
    (r"dispute officer or arbiter role", "须为核验人员或争议仲裁方角色"),
    (r"(\d+) already open by this opener", "该提起方已有 {0} 项未结争议"),
    (r"dispute (\d+)", "争议 {0}"),
    (r"the header counts (\d+) events, the endpoint returned (\d+)", "办件头登记 {0} 个事件，链节点返回 {1} 个"),
    (r"accepting hall (\d+)", "受理大厅 {0}"),
    (r"head (\S+) ≠ event (\d+)", "哈希链头 {0} ≠ 第 {1} 号事件"),
    (r"lastBlock (\d+) ≠ (\d+)", "最后写入区块 {0} ≠ {1}"),
    (
        r"block (\d+): prevChangeBlock (\d+), the change before is in (\S+)",
        "区块 {0}：所指上一变更区块 {1}，而上一变更在区块 {2}",
    ),
    (r"counted by the case header, not returned by the endpoint", "办件头已计入，链节点未返回"),
    (r"(-?\d+) s", "{0} 秒"),
    (r"(\S+) > block (\d+)", "{0} 晚于区块 {1} 的时间"),
    (r"missing", "未载明"),
    (r"frame field withheld: (.+)", "记录框架字段被隐去：{0}"),
    (r"batch (\S+) in block (\d+)", "批次 {0}，区块 {1}"),
    (r"batch ([^\s:]+)(?::.*)?", "批次 {0}"),
    (r"names batch (\S+), expected (\S+)", "所指批次 {0}，应为 {1}"),
    (r"no batch manifests were given", "未提供批次清单"),
    (r"the case's INTAKE is not proven", "本案的基本信息未得到证明"),
    (r"blocks (\S+) scanned, the case spans (\S+)", "已扫描区块 {0}，本案跨越区块 {1}"),
    (r"the chain's event (\d+) is in batch (\S+)", "链上第 {0} 号事件在批次 {1}"),
    (r"no such event in the case's chain", "本案事件链中没有该事件"),
    (r"a later event's index counts it", "后续事件的序号已将其计入"),
    (r"hall (\d+): batch (\d+) follows batch (\d+)", "大厅 {0}：批次 {1} 接在批次 {2} 之后"),
    (r"not a file committed in this case", "不是本办件登记的文件"),
]
"""the detail phrases the checks write (a regular expression over the whole detail) and their Chinese"""

_DETAIL_ZH = [(re.compile(p), zh) for p, zh in DETAIL_ZH]
_STAGE_ZH = {st.name: st.label_zh for st in Stage}
_PHASE_ZH = {
    Phase.NONE.name: "未登记",
    Phase.OPENED.name: "已登记",
    Phase.MATERIALS_RECORDED.name: "材料已登记",
    Phase.ACCEPTED.name: "已受理",
    Phase.DECIDED.name: "已办结",
    Phase.DELIVERED.name: "已送达",
}
_CODE_WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Z][A-Z_]+(?![A-Za-z0-9_])")
_FILE_NAME = re.compile(r"[^\s/\\]+\.[A-Za-z0-9]{2,5}")


def _words_zh(text: str) -> str:
    """Stage and phase names (``INTAKE``, ``ACCEPTED``) in Chinese."""
    return _CODE_WORD.sub(lambda m: _STAGE_ZH.get(m.group(0)) or _PHASE_ZH.get(m.group(0)) or m.group(0), text)


def detail_zh(detail: str) -> str:
    """A reason's detail in Chinese: a known phrase (:data:`DETAIL_ZH`) in its Chinese words, numbers, hashes,
    addresses, serials and file names as they are, stage names in Chinese; empty when there is no Chinese for
    it (the English sentence keeps it)::

        >>> detail_zh("not the accepting hall"), detail_zh("PROCESS before INTAKE"), detail_zh("12 ≠ 13")
        ('不是受理大厅', '过程信息早于基本信息', '12 ≠ 13')
    """
    if not detail or _FILE_NAME.fullmatch(detail):
        return detail
    for pattern, zh in _DETAIL_ZH:
        m = pattern.fullmatch(detail)
        if m:
            detail = zh.format(*m.groups())
            break
    detail = _words_zh(detail)
    return "" if foreign_words(detail) else detail


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    detail: str = ""

    def text(self, lang: str = "zh") -> str:
        zh, en = MESSAGES.get(self.code, (self.code, self.code))
        if lang == "zh":
            detail = detail_zh(self.detail)
            return f"{zh}（{detail}）" if detail else zh
        return f"{en} ({self.detail})" if self.detail else en


class EventVerdict(BaseModel):
    index: int
    stage: str
    status: Status
    reasons: list[Reason] = []
    findings: list[Reason] = []
    writer: str | None = None
    hall_id: int | None = None
    block: int | None = None
    time: int | None = None
    """block time (unix seconds): what the chain proves"""
    claimed_at: str | None = None
    """the record's ``at`` as written"""
    claimed_time: int | None = None
    """``at`` in unix seconds"""
    lag_s: int | None = None
    """block time minus claimed time"""
    tx: str | None = None
    ref: int | None = None
    withheld: list[str] = []


Checked = Literal["proof_and_content", "proof_only", "nothing"]
CHECKED_TEXT: dict[str, tuple[str, str]] = {
    "proof_and_content": ("存在性证明与文件内容均一致", "the proof holds and the file's bytes are the committed ones"),
    "proof_only": (
        "存在性证明一致，文件本身未提供，未核对内容",
        "the proof holds; the file itself was not provided, so its content was not checked",
    ),
    "nothing": ("未能核对", "not checked"),
}
"""what a file's verdict rests on, as the report says it (zh-CN, English)"""


class MaterialVerdict(BaseModel):
    event_index: int
    kind: str
    name: str
    status: Literal["match", "mismatch"]
    reasons: list[Reason] = []
    content_checked: bool = False
    checked: Checked = "nothing"
    """``proof_and_content``: the file's bytes were given and are the committed ones; ``proof_only``: the
    inclusion proof holds but the bundle carries no bytes (``content_b64`` left out); ``nothing``: refused
    before the proof (its record is not a verified MATERIALS/RESULT record, or the tree size differs)"""

    def text(self, lang: str = "zh") -> str:
        """One plain sentence: what was checked, or why it does not match."""
        if self.reasons:
            return "; ".join(r.text(lang) for r in self.reasons)
        return CHECKED_TEXT[self.checked][0 if lang == "zh" else 1]


class VerificationReport(BaseModel):
    serial: str
    accepting_hall: int
    chain_id: int
    ledger: str
    suite: str
    max_anchor_lag_s: int
    addresses_from: Literal["deployment", "bundle"] = "bundle"
    """``deployment``: the contracts were read at trusted addresses; ``bundle``: at the bundle's own"""
    verdict: BundleVerdict
    reasons: list[Reason] = []
    """why the bundle is incomplete (bundle-level)"""
    events: list[EventVerdict]
    materials: list[MaterialVerdict] = []
    withheld_fields: dict[int, list[str]] = {}
    mode: Literal["event", "merkle"] = "event"
    complete_as_of: int | None = None
    """Merkle mode: the last block of the scan that proved the case complete (None: not proven)"""

    @property
    def ok(self) -> bool:
        return self.verdict == "match"

    @property
    def findings(self) -> list[tuple[int, Reason]]:
        return [(e.index, f) for e in self.events for f in e.findings]

    @property
    def exit_code(self) -> int:
        return 0 if self.verdict == "match" else 1
