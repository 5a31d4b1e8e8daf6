"""The verifier's answer: a verdict per event and per material file, with reasons in zh-CN and English.

``Reason.code`` is one of :data:`MESSAGES` (the reason codes are documented in docs/verification.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["MESSAGES", "EventVerdict", "MaterialVerdict", "Reason", "Status", "VerificationReport"]

Status = Literal["match", "mismatch", "missing_on_chain", "missing_from_bundle"]

# zh-CN first, English second.
MESSAGES: dict[str, tuple[str, str]] = {
    "record_mismatch": ("记录内容与链上承诺不符", "record content does not match the on-chain commitment"),
    "record_malformed": ("记录格式错误", "record is malformed"),
    "record_absent": ("证据包未提供该记录内容", "the bundle does not include this record's content"),
    "serial_mismatch": ("记录所属办件编号不符", "record belongs to another case"),
    "stage_mismatch": ("记录环节与链上环节不符", "record stage differs from the on-chain stage"),
    "writer_mismatch": ("写入方与链上记录不符", "writer differs from the chain"),
    "hall_mismatch": ("大厅编号与链上记录不符", "hall id differs from the chain"),
    "block_mismatch": ("区块号与链上记录不符", "block number differs from the chain"),
    "time_mismatch": ("时间与链上区块时间不符（疑似倒签）", "time differs from the block time (back-dated?)"),
    "tx_mismatch": ("交易哈希与链上记录不符", "transaction hash differs from the chain"),
    "commitment_mismatch": ("承诺值与链上记录不符", "commitment differs from the chain"),
    "head_mismatch": ("哈希链头与链上记录不符", "hash-chain head differs from the chain"),
    "chain_head_broken": ("链上哈希链无法复算", "the on-chain hash chain does not recompute"),
    "writer_inactive": ("写入时该密钥不是有效大厅密钥", "writer key was not an active hall key at that block"),
    "writer_no_right": ("写入方无权写入该环节", "writer had no right to write this stage"),
    "out_of_order": ("环节顺序不符合办件流程", "stage out of lifecycle order"),
    "recorded_after_anchor": ("记录时间晚于上链时间", "record time is later than its anchoring block"),
    "missing_on_chain": ("链上无此事件", "event not found on chain"),
    "missing_from_bundle": ("证据包缺少链上已有的事件", "event on chain is missing from the bundle"),
    "material_mismatch": ("材料证明不成立", "material proof does not hold"),
    "material_content_mismatch": ("材料文件内容与登记不符", "material file differs from what was committed"),
    "material_event_invalid": (
        "材料所指的事件不是已核验的材料记录或结果记录",
        "material refers to no verified MATERIALS or RESULT record",
    ),
}


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    detail: str = ""

    def text(self, lang: str = "zh") -> str:
        zh, en = MESSAGES.get(self.code, (self.code, self.code))
        base = zh if lang == "zh" else en
        return (
            f"{base}（{self.detail}）"
            if self.detail and lang == "zh"
            else f"{base} ({self.detail})"
            if self.detail
            else base
        )


class EventVerdict(BaseModel):
    index: int
    stage: str
    status: Status
    reasons: list[Reason] = []
    writer: str | None = None
    hall_id: int | None = None
    block: int | None = None
    time: int | None = None
    tx: str | None = None
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
    chain_id: int
    ledger: str
    events: list[EventVerdict]
    materials: list[MaterialVerdict] = []
    withheld_fields: dict[int, list[str]] = {}

    @property
    def ok(self) -> bool:
        return all(e.status == "match" for e in self.events) and all(m.status == "match" for m in self.materials)

    @property
    def verdict(self) -> str:
        return "match" if self.ok else "mismatch"
