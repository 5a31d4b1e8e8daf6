"""The published JSON Schema of the evidence bundle is generated from the model, never edited by hand."""

from __future__ import annotations

import json
from pathlib import Path

from ledger.core.bundle import bundle_schema

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "schema" / "evidence-bundle.schema.json"
REGENERATE = (
    "python -c 'import json; from ledger.core.bundle import bundle_schema; "
    "print(json.dumps(bundle_schema(), indent=1))' > docs/schema/evidence-bundle.schema.json"
)


def test_published_schema_is_the_models() -> None:
    published = PUBLISHED.read_text(encoding="utf-8")
    assert published == json.dumps(bundle_schema(), indent=1) + "\n", f"stale schema: regenerate with {REGENERATE}"
