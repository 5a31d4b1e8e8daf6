"""The scripted cross-district scenario, driven through the halls' HTTP APIs (``caseledger demo``).

Intake at hall A for hall B's district → B receives and verifies the package → B accepts,
reviews and decides with a result document → A pulls and verifies the result → A delivers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pyotp

from ledger.errors import ConfigError
from ledger.hall.idnumber import id_check_character

__all__ = ["DemoError", "HallClient", "demo_credentials", "demo_id_number", "run_demo"]


# the demo's failures are operator errors (a hall not up, no demo accounts): English detail for the console
DemoError = ConfigError


def demo_id_number(base17: str = "35050219900307123") -> str:
    """A checksum-valid (fictitious) resident ID number."""
    return base17 + id_check_character(base17)


_SESSIONS: dict[tuple[str, str], str] = {}


def demo_credentials(hall_dir: Path | str, username: str) -> dict[str, Any]:
    """The demo account ``username`` of a dev hall (``<hall dir>/demo-accounts.json``, written by the node)."""
    path = Path(hall_dir) / "demo-accounts.json"
    try:
        accounts: dict[str, dict[str, Any]] = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise DemoError(f"no demo accounts at {path}: start the hall with CASELEDGER_DEMO_ACCOUNTS=true") from exc
    if username not in accounts:
        raise DemoError(f"no demo account {username!r} in {path} (there are {', '.join(sorted(accounts))})")
    return accounts[username]


class HallClient:
    """A staff member's HTTP client for one hall: signs in (password + TOTP when needed) and sends the bearer token.

    ``HallClient.demo(hall_dir, url, "officer")`` signs in with a dev consortium's demo account.
    """

    def __init__(
        self, url: str, username: str, password: str, totp_secret: str | None = None, timeout: float = 30.0
    ) -> None:
        self.url = url.rstrip("/")
        self.username = username
        self.http = httpx.Client(base_url=self.url, timeout=timeout)
        token = _SESSIONS.get((self.url, username))
        if token is None or self.http.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code != 200:
            token = self._login(password, totp_secret)
            _SESSIONS[(self.url, username)] = token
        self.token = token
        self.http.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def demo(cls, hall_dir: Path | str, url: str, username: str, timeout: float = 30.0) -> HallClient:
        c = demo_credentials(hall_dir, username)
        return cls(url, username, c["password"], c.get("totp_secret"), timeout=timeout)

    def _login(self, password: str, totp_secret: str | None) -> str:
        # a TOTP code is good once: if this step's code was used already, use the next one (or wait for it)
        for attempt in range(3):
            body: dict[str, Any] = {"username": self.username, "password": password}
            if totp_secret:
                totp = pyotp.TOTP(totp_secret)
                body["totp"] = totp.at(time.time() + (30 if attempt else 0))
            r = self.http.post("/auth/login", json=body)
            if r.status_code == 200:
                token: str = r.json()["token"]
                return token
            if r.status_code != 401 or not totp_secret:
                break
            if attempt == 1:
                time.sleep(30 - time.time() % 30 + 0.5)
        raise DemoError(f"sign-in of {self.username} at {self.url} failed: {r.status_code} {r.text}")

    def _ok(self, r: httpx.Response) -> Any:
        if r.status_code >= 400:
            raise DemoError(f"{r.request.method} {r.request.url.path} at {self.url} answered {r.status_code}: {r.text}")
        return r.json()

    def health(self) -> dict[str, Any]:
        data: dict[str, Any] = self._ok(self.http.get("/health"))
        return data

    def intake(self, data: dict[str, str], files: list[tuple[str, tuple[str, bytes]]]) -> dict[str, Any]:
        out: dict[str, Any] = self._ok(self.http.post("/cases", data=data, files=files))
        return out

    def case(self, serial: str) -> dict[str, Any] | None:
        r = self.http.get(f"/cases/{serial}")
        if r.status_code == 404:
            return None
        out: dict[str, Any] = self._ok(r)
        return out

    def post(self, path: str, **kw: Any) -> dict[str, Any]:
        out: dict[str, Any] = self._ok(self.http.post(path, **kw))
        return out


def wait_for(what: str, check: Callable[[], Any], timeout: float = 90.0, interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def _stages(view: dict[str, Any] | None, *, anchored: bool = False) -> list[str]:
    if not view:
        return []
    return [e["stage"] for e in view["timeline"] if not anchored or e["anchor"]["state"] == "anchored"]


def _verified(view: dict[str, Any] | None) -> bool:
    """The hall's last pull of the case's events from the other hall is complete (verified against the chain).

    A pull stores the records first and marks the transfer complete just after, so a view can already show an
    event whose pull still reads ``retrying`` (an earlier attempt failed) for a moment."""
    return bool(view) and ((view or {}).get("transfer") or {}).get("state") == "complete"


def run_demo(
    a: HallClient,
    b: HallClient,
    *,
    home_district: int,
    log: Callable[[str], None] = lambda _: None,
    timeout: float = 90,
) -> dict[str, Any]:
    materials = {
        "application_form": ("户口迁移申请表.pdf", b"%PDF-1.4 application form for household migration\n"),
        "id_card": ("身份证.jpg", b"\xff\xd8\xff\xe0 fictitious ID card scan"),
        "household_register": ("户口簿.pdf", b"%PDF-1.4 household register pages\n"),
        "housing_proof": ("住所证明.pdf", b"%PDF-1.4 proof of lawful stable housing\n"),
    }
    case = a.intake(
        {
            "item_code": "HJ-MIGRATE",
            "home_district": str(home_district),
            "applicant_name": "陈明华",
            "applicant_id_number": demo_id_number(),
            "applicant_phone": "13905951234",
            "applicant_address": "泉州市丰泽区东海街道",
        },
        [(f"materials.{k}", v) for k, v in materials.items()],
    )
    serial = case["serial"]
    log(f"intake at hall A: {serial} (HJ-MIGRATE 户口迁移) for district {home_district}")
    wait_for("hall B to receive and verify the package", lambda: len(_stages(b.case(serial))) >= 2, timeout)
    log("hall B received the package and verified every record and file against the chain")
    b.post(f"/cases/{serial}/acceptance", json={"accepted": True, "reason": "材料齐全"})
    b.post(f"/cases/{serial}/process", json={"step": "review", "note": "审查通过"})
    b.post(
        f"/cases/{serial}/result",
        data={"approved": "true", "note": "准予迁入"},
        files=[("document", ("准予迁入证明.pdf", b"%PDF-1.4 approval certificate\n"))],
    )
    log("hall B accepted, reviewed and decided (approved, with the result document)")
    wait_for("hall A to pull the verified result", lambda: "RESULT" in _stages(a.case(serial)), timeout)
    a.post(f"/cases/{serial}/delivery", json={"method": "counter", "note": "窗口领取"})
    log("hall A pulled and verified the result; delivered at the counter")
    want = ["INTAKE", "MATERIALS", "ACCEPTANCE", "PROCESS", "RESULT", "DELIVERY"]
    view = wait_for(
        "every event to be anchored and hall A's pull of hall B's events complete",
        lambda: (v := a.case(serial)) and sorted(_stages(v, anchored=True)) == sorted(want) and _verified(v) and v,
        timeout,
    )
    bview = wait_for(
        "hall B to receive and verify the delivery",
        lambda: (v := b.case(serial)) and len(_stages(v)) == 6 and _verified(v) and v,
        timeout,
    )
    events = [
        {
            "stage": e["stage"],
            "anchored": e["anchor"]["state"] == "anchored",
            "tx": e["anchor"].get("tx"),
            "block": e["anchor"].get("block"),
            "index": e["anchor"].get("index"),
            "writer_hall": e["writer_hall"],
        }
        for e in view["timeline"]
    ]
    verified_b = (bview.get("transfer") or {}).get("state") == "complete"
    verified_a = (view.get("transfer") or {}).get("state") == "complete"
    return {
        "serial": serial,
        "accepting_hall": view["accepting_hall"],
        "home_district": view["home_district"],
        "events": events,
        "verified": verified_a and verified_b,
        "verified_at": {"accepting_hall": verified_a, "home_hall": verified_b},
    }
