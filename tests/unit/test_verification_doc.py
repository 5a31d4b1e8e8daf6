"""docs/verification.md stays the specification of what the verifier says: its code table lists every
reason and finding code of ledger.verify.report with the same zh-CN and English text, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from ledger.core.chainlog import ROLE_IDS
from ledger.verify.report import FINDINGS, INCOMPLETE, MESSAGES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "verification.md").read_text(encoding="utf-8")
ROW = re.compile(r"^\| `([a-z_]+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", re.M)


def test_every_code_is_in_the_table_with_its_texts_and_exit_code() -> None:
    rows = {m.group(1): [g.strip() for g in m.groups()[1:]] for m in ROW.finditer(DOC)}
    assert set(rows) == set(MESSAGES)
    for code, (zh, en) in MESSAGES.items():
        kind, doc_zh, doc_en, exit_code = rows[code]
        assert (doc_zh, doc_en) == (zh, en), code
        assert exit_code == ("0 (alone)" if code in FINDINGS else "1"), code
        assert (kind == "bundle: incomplete") == (code in INCOMPLETE), code


def test_role_ids_and_event_signatures_are_the_codes() -> None:
    for name, rid in ROLE_IDS.items():
        if name != "DEFAULT_ADMIN_ROLE":
            assert f"| `{name}` | `{rid}` |" in DOC
    assert "EventAppended(bytes32,uint32,uint8,address,uint32,bytes32,bytes32,uint32,uint64)" in DOC
    assert "materials_count" in DOC and "material_count" not in DOC
