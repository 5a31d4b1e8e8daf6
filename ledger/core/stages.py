"""Case stages and phases, numbered exactly as the contract's ``ICaseLedger.Stage`` and ``ICaseLedger.Phase`` enums."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ACCEPTING_HALL_STAGES", "DISPUTE_STAGES", "HOME_DISTRICT_STAGES", "Phase", "Stage"]


class Stage(IntEnum):
    """Stage of a case event. The numbers are hashed into the chain: never renumber."""

    INTAKE = 0
    MATERIALS = 1
    ACCEPTANCE = 2
    PROCESS = 3
    RESULT = 4
    DELIVERY = 5
    DISPUTE_OPENED = 6
    DISPUTE_RESOLVED = 7

    @property
    def label_zh(self) -> str:
        return _ZH[self]

    @classmethod
    def parse(cls, value: str | int) -> Stage:
        if isinstance(value, int):
            return cls(value)
        return cls[value.upper()]


_ZH = {
    Stage.INTAKE: "基本信息",
    Stage.MATERIALS: "材料信息",
    Stage.ACCEPTANCE: "受理信息",
    Stage.PROCESS: "过程信息",
    Stage.RESULT: "结果信息",
    Stage.DELIVERY: "结果送达",
    Stage.DISPUTE_OPENED: "争议提起",
    Stage.DISPUTE_RESOLVED: "争议处理",
}


class Phase(IntEnum):
    """Where a case stands on chain (``caseHeader(...).phase``): the contract's ``Phase`` enum."""

    NONE = 0
    OPENED = 1
    MATERIALS_RECORDED = 2
    ACCEPTED = 3
    DECIDED = 4
    DELIVERED = 5


ACCEPTING_HALL_STAGES = frozenset({Stage.INTAKE, Stage.MATERIALS, Stage.DELIVERY})
HOME_DISTRICT_STAGES = frozenset({Stage.ACCEPTANCE, Stage.PROCESS, Stage.RESULT})
DISPUTE_STAGES = frozenset({Stage.DISPUTE_OPENED, Stage.DISPUTE_RESOLVED})
