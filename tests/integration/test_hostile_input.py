"""Hostile input against a real in-process node: uploads, file names, CSRF, login lockout, peer requests."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.hall.keystore import load_keystore
from ledger.hall.transfer import HDR_SIG, sign_request
from tests.integration.conftest import MATERIALS, InProcHall, intake_form, pdf

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clerk(inproc_hall: InProcHall) -> dict[str, str]:
    return {"Authorization": f"Bearer {inproc_hall.sign_in('h.clerk', ('clerk',))}"}


def _files(**over: tuple[str, bytes, str]) -> list[tuple[str, tuple[str, bytes, str]]]:
    out = []
    for k in MATERIALS:
        out.append((f"materials.{k}", over.get(k, (f"{k}.pdf", pdf(k), "application/pdf"))))
    return out


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (("id.exe", b"MZ\x90\x00", "application/octet-stream"), "only PDF, JPG, PNG or OFD files are accepted"),
        (("id.pdf", b"\xff\xd8\xff\xe0 a jpeg", "application/pdf"), "does not look like a .pdf"),
        (("id.pdf", pdf("x"), "image/png"), "declared as image/png"),
        (("../../../etc/passwd.pdf", pdf("x"), "application/pdf"), "must not contain a path"),
        (("..\\\\win.pdf", pdf("x"), "application/pdf"), "must not contain a path"),
    ],
)
def test_bad_upload_is_refused_naming_the_field(
    inproc_hall: InProcHall, clerk: dict[str, str], upload: tuple[str, bytes, str], message: str
) -> None:
    data, _ = intake_form(inproc_hall.node.hall.district)
    before = inproc_hall.node.store.count_prefix(b"case/")
    r = inproc_hall.client.post("/cases", data=data, files=_files(id_card=upload), headers=clerk)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "materials.id_card"
    assert message in r.json()["error"]["message"]
    assert inproc_hall.node.store.count_prefix(b"case/") == before


@pytest.mark.parametrize("name", [b"id\x00card.pdf", b"id\x01card.pdf", b"../../x.pdf"])
def test_raw_multipart_file_names_with_nul_or_path_are_refused(
    inproc_hall: InProcHall, clerk: dict[str, str], name: bytes
) -> None:
    """Hand-built multipart (clients such as httpx escape these bytes themselves)."""
    data, _ = intake_form(inproc_hall.node.hall.district)
    b = b"----caseledgerboundary"
    parts = [
        b"--" + b + b'\r\nContent-Disposition: form-data; name="' + k.encode() + b'"\r\n\r\n' + v.encode()
        for k, v in data.items()
    ]
    for k in MATERIALS:
        fname = name if k == "id_card" else f"{k}.pdf".encode()
        parts.append(
            b"--"
            + b
            + b'\r\nContent-Disposition: form-data; name="materials.'
            + k.encode()
            + b'"; filename="'
            + fname
            + b'"\r\nContent-Type: application/pdf\r\n\r\n'
            + pdf(k)
        )
    body = b"\r\n".join(parts) + b"\r\n--" + b + b"--\r\n"
    ctype = "multipart/form-data; boundary=" + b.decode()
    r = inproc_hall.client.post("/cases", content=body, headers={**clerk, "Content-Type": ctype})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] in ("materials.id_card", "body")


def test_allowed_types_pass(inproc_hall: InProcHall, clerk: dict[str, str]) -> None:
    data, _ = intake_form(inproc_hall.node.hall.district)
    files = _files(
        id_card=("身份证.jpg", b"\xff\xd8\xff\xe0 jpeg", "image/jpeg"),
        application_form=("申请表.ofd", b"PK\x03\x04 ofd", "application/ofd"),
        housing_proof=("proof.PNG", b"\x89PNG\r\n\x1a\n png", "image/png"),
    )
    r = inproc_hall.client.post("/cases", data=data, files=files, headers=clerk)
    assert r.status_code == 201, r.text


def test_too_many_files_and_oversized_file(inproc_hall: InProcHall, clerk: dict[str, str]) -> None:
    data, _ = intake_form(inproc_hall.node.hall.district)
    many = _files() + [("materials.id_card", (f"extra{i}.pdf", pdf(str(i)), "application/pdf")) for i in range(5)]
    r = inproc_hall.client.post("/cases", data=data, files=many, headers=clerk)
    assert r.status_code == 422 and r.json()["error"]["field"] == "materials.id_card"
    flood = [("materials.id_card", (f"f{i}.pdf", pdf(str(i)), "application/pdf")) for i in range(60)]
    r = inproc_hall.client.post("/cases", data=data, files=flood, headers=clerk)
    assert r.status_code == 422 and r.json()["error"]["field"] in ("body", "materials")
    big = _files(id_card=("id.pdf", pdf("x" * 250_000), "application/pdf"))
    r = inproc_hall.client.post("/cases", data=data, files=big, headers=clerk)
    assert r.status_code == 422 and r.json()["error"]["field"] == "materials.id_card"


def test_body_limit_answers_413(inproc_hall: InProcHall, clerk: dict[str, str]) -> None:
    limit = inproc_hall.node.settings.max_body_bytes
    r = inproc_hall.client.post(
        "/auth/login", content=b"{}", headers={"Content-Length": str(limit + 1), "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_cookie_session_needs_the_csrf_token_for_changes(inproc_hall: InProcHall) -> None:
    h = inproc_hall
    h.node.accounts.create("h.cookie", "correct horse battery staple", roles=("clerk",))
    from fastapi.testclient import TestClient

    browser = TestClient(h.app)
    r = browser.post("/auth/login", json={"username": "h.cookie", "password": "correct horse battery staple"})
    assert r.status_code == 200
    set_cookie = r.headers.get_list("set-cookie")
    assert any("caseledger_session=" in c and "HttpOnly" in c and "SameSite=strict" in c for c in set_cookie)
    csrf = r.json()["csrf_token"]
    assert browser.get("/cases").status_code == 200  # safe method: the cookie is enough
    data, files = intake_form(h.node.hall.district)
    r = browser.post("/cases", data=data, files=files)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = browser.post("/cases", data=data, files=files, headers={"X-CSRF-Token": "not-it"})
    assert r.status_code == 403
    r = browser.post("/cases", data=data, files=files, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text


def test_login_lockout_over_http(inproc_hall: InProcHall) -> None:
    h = inproc_hall
    h.node.accounts.create("h.locked", "correct horse battery staple", roles=("clerk",))
    for _ in range(5):
        r = h.client.post("/auth/login", json={"username": "h.locked", "password": "wrong password here"})
        assert r.status_code == 401
    r = h.client.post("/auth/login", json={"username": "h.locked", "password": "correct horse battery staple"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # an officer without the one-time code is refused even with the right password
    h.node.accounts.create("h.officer", "correct horse battery staple", roles=("officer",))
    r = h.client.post("/auth/login", json={"username": "h.officer", "password": "correct horse battery staple"})
    assert r.status_code == 401


def _peer_key(h: InProcHall, district: int) -> Any:
    d = h.dir.parent / f"hall-{district}"
    return load_keystore(d / "keystore.json", (d / "keystore.password").read_text().strip())


def test_peer_requests_replay_forgery_and_no_right(inproc_hall: InProcHall, clerk: dict[str, str]) -> None:
    h = inproc_hall
    data, files = intake_form(350503)
    other = h.client.post("/cases", data=data, files=files, headers=clerk).json()["serial"]
    data, files = intake_form(h.node.hall.district)
    own = h.client.post("/cases", data=data, files=files, headers=clerk).json()["serial"]
    key = _peer_key(h, 350503)  # hall 2, district 350503
    path = f"/peer/cases/{other}/package"
    hdr = sign_request(key, "GET", path, target_hall=h.node.hall.hall_id)
    assert h.client.get(path, headers=hdr).status_code == 200
    assert h.client.get(path, headers=hdr).status_code == 401  # replayed
    # forged: a flipped bit in the signature, or a signature made for another path
    forged = sign_request(key, "GET", path, target_hall=h.node.hall.hall_id)
    sig = bytearray(bytes.fromhex(forged[HDR_SIG][2:]))
    sig[5] ^= 0x01
    forged[HDR_SIG] = "0x" + sig.hex()
    assert h.client.get(path, headers=forged).status_code == 401
    assert (
        h.client.get(
            path, headers=sign_request(key, "GET", f"/peer/cases/{own}/package", target_hall=h.node.hall.hall_id)
        ).status_code
        == 401
    )
    # hall 2 has no right to a case of hall 1's own district accepted at hall 1
    r = h.client.get(
        f"/peer/cases/{own}/package",
        headers=sign_request(key, "GET", f"/peer/cases/{own}/package", target_hall=h.node.hall.hall_id),
    )
    assert r.status_code == 403
    # a staff bearer token is no hall signature
    assert h.client.get(path, headers=clerk).status_code == 401
    # the package served is logged in the access trail as a peer access
    entries = h.node.trail.entries(serial=other)
    assert any(e["actor"] == "peer:hall-2" and e["action"] == "peer_package" for e in entries)


def test_suspended_hall_is_refused(inproc_hall: InProcHall, clerk: dict[str, str]) -> None:
    h = inproc_hall
    data, files = intake_form(350503)
    other = h.client.post("/cases", data=data, files=files, headers=clerk).json()["serial"]
    key = _peer_key(h, 350503)
    info = h.node.reader.hall_of(key.address)
    assert info is not None
    h.admin.suspend_hall(info.hall_id)
    try:
        path = f"/peer/cases/{other}/package"
        r = h.client.get(path, headers=sign_request(key, "GET", path, target_hall=h.node.hall.hall_id))
        assert r.status_code == 403 and "suspended" in r.json()["error"]["message"]
    finally:
        h.admin.reactivate_hall(info.hall_id)
