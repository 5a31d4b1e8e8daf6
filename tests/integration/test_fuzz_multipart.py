"""A fuzz pass (hypothesis) over multipart uploads, through the real app of a real in-process node (real
chain, real LevelDB): intake with generated fields, file names, types and contents, and raw generated
bodies. Every answer is 201 or a documented refusal (413, 422 naming a field) — never a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.dev.demo import demo_id_number
from tests.integration.conftest import MATERIALS, InProcHall

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None)
MAGIC = [b"%PDF-1.4 ", b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"PK\x03\x04", b"MZ", b""]
names = st.text(min_size=0, max_size=40) | st.sampled_from(["a.pdf", "身份证.jpg", "../x.pdf", "x\x00.pdf", "a.PNG"])
part_names = st.sampled_from(
    [f"materials.{m}" for m in MATERIALS] + ["materials.nope", "document", "junk", "materials."]
)


@pytest.fixture(scope="module")
def clerk(inproc_hall: InProcHall) -> dict[str, str]:
    return {"Authorization": f"Bearer {inproc_hall.sign_in('fuzz.clerk', ('clerk',))}"}


def _ok(r: Any) -> None:
    assert r.status_code in (201, 413, 422), (r.status_code, r.text[:300])
    if r.status_code != 201:
        err = r.json()["error"]
        assert err["code"] in ("invalid_input", "body_too_large") and err["message"]


@SETTINGS
@given(
    fields=st.dictionaries(
        st.sampled_from(
            [
                "item_code",
                "home_district",
                "applicant_name",
                "applicant_id_number",
                "applicant_phone",
                "applicant_address",
                "note",
                "x",
            ]
        ),
        st.text(max_size=80) | st.sampled_from(["HJ-MIGRATE", "350503", demo_id_number(), "13805950000", "林小梅"]),
        max_size=8,
    ),
    files=st.lists(
        st.tuples(
            part_names,
            names,
            st.sampled_from(MAGIC),
            st.binary(max_size=200),
            st.sampled_from(["application/pdf", "image/png", "", "text/html"]),
        ),
        max_size=6,
    ),
)
def test_generated_intake_forms(
    inproc_hall: InProcHall, clerk: dict[str, str], fields: dict[str, str], files: list[Any]
) -> None:
    parts = [(p, (n or "f", magic + data, ct or "application/octet-stream")) for p, n, magic, data, ct in files]
    _ok(inproc_hall.client.post("/cases", data=fields, files=parts, headers=clerk))


@SETTINGS
@given(body=st.binary(max_size=600), boundary=st.sampled_from(["xx", "", "a" * 80, "\x00"]))
def test_raw_multipart_bodies(inproc_hall: InProcHall, clerk: dict[str, str], body: bytes, boundary: str) -> None:
    headers = {**clerk, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    _ok(inproc_hall.client.post("/cases", content=b"--xx\r\n" + body, headers=headers))
