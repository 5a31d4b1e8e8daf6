"""The verifier's answer: a verdict per event and per material file, with reasons and findings in
zh-CN and English.

``Reason.code`` is one of :data:`MESSAGES`; every code, its meaning and the exit code it leads to are
tabulated in docs/verification.md (a unit test keeps the table and this dictionary equal).
A *reason* makes its event (or the bundle) a mismatch or incomplete; a *finding* is reported
without changing the verdict.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "FINDINGS",
    "INCOMPLETE",
    "MESSAGES",
    "BundleVerdict",
    "EventVerdict",
    "MaterialVerdict",
    "Reason",
    "Status",
    "VerificationReport",
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
    # the bundle as a whole: incomplete
    "bundle_empty": ("证据包中没有任何事件", "the bundle holds no events"),
    "case_unknown": ("链上没有该办件", "the chain does not know this case"),
    "records_not_anchored": ("部分记录尚未上链", "some of the case's records are not anchored yet"),
    # findings (do not change the verdict)
    "anchored_late": (
        "上链时间远晚于所称办理时间：办理时间仅能证明不晚于上链时间",
        "anchored long after the claimed time: the act is only proven to be no later than its block",
    ),
}

INCOMPLETE = frozenset({"bundle_empty", "case_unknown", "records_not_anchored"})
FINDINGS = frozenset({"anchored_late"})


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    detail: str = ""

    def text(self, lang: str = "zh") -> str:
        zh, en = MESSAGES.get(self.code, (self.code, self.code))
        if lang == "zh":
            return f"{zh}（{self.detail}）" if self.detail else zh
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


class MaterialVerdict(BaseModel):
    event_index: int
    kind: str
    name: str
    status: Literal["match", "mismatch"]
    reasons: list[Reason] = []
    content_checked: bool = False


class VerificationReport(BaseModel):
    serial: str
    accepting_hall: int
    chain_id: int
    ledger: str
    suite: str
    max_anchor_lag_s: int
    verdict: BundleVerdict
    reasons: list[Reason] = []
    """why the bundle is incomplete (bundle-level)"""
    events: list[EventVerdict]
    materials: list[MaterialVerdict] = []
    withheld_fields: dict[int, list[str]] = {}

    @property
    def ok(self) -> bool:
        return self.verdict == "match"

    @property
    def findings(self) -> list[tuple[int, Reason]]:
        return [(e.index, f) for e in self.events for f in e.findings]

    @property
    def exit_code(self) -> int:
        return 0 if self.verdict == "match" else 1
