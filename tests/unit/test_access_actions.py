"""Every action the code writes to the access trail is one the trail accepts.

Regression: ``POST /cases/{serial}/reveal`` logged ``reveal_personal``, which was not in
:data:`ledger.hall.access.ACTIONS`, so every reveal of an applicant's details was refused with
"未知的访问类型" (and nothing was shown).
"""

from __future__ import annotations

import ast
from pathlib import Path

from ledger.hall.access import ACTIONS, AccessTrail
from ledger.hall.store import Store

ROOT = Path(__file__).resolve().parents[2]


def _logged_actions() -> set[str]:
    """The literal action names given to ``record_access(actor, action, …)`` and ``trail.record(action=…)``."""
    out: set[str] = set()
    for tree in (ROOT / "ledger", ROOT / "node_api"):
        for path in tree.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                    continue
                args: list[ast.expr] = []
                if node.func.attr == "record_access" and len(node.args) >= 2:
                    args.append(node.args[1])
                if node.func.attr in ("record", "record_access"):
                    args += [k.value for k in node.keywords if k.arg == "action"]
                out |= {a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return out


def test_every_logged_action_is_known_to_the_trail() -> None:
    logged = _logged_actions()
    assert {"view_case", "reveal_personal", "export_bundle", "peer_package"} <= logged
    assert logged <= ACTIONS, sorted(logged - ACTIONS)


def test_a_reveal_of_personal_data_is_logged_with_its_reason(tmp_path: Path) -> None:
    trail = AccessTrail(Store.init(tmp_path / "store"), hall_id=1)
    trail.record(actor="staff:officer", action="reveal_personal", serial="TB20261202-001-00001", what="核对申请人身份")
    (entry,) = trail.entries(serial="TB20261202-001-00001")
    assert entry["action"] == "reveal_personal" and entry["what"] == "核对申请人身份"
