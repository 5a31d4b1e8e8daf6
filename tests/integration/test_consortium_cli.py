"""``caseledger up --detach / status / down`` and ``caseledger demo --json`` as real commands."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.dev.devchain import free_port
from tests.integration.conftest import ANCHOR_MODES

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CASELEDGER_POLL_INTERVAL": "0.3", "CASELEDGER_OUTBOX_INTERVAL": "0.2"}
    return subprocess.run(
        [sys.executable, "-c", "from ledger.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.mark.parametrize("mode", ANCHOR_MODES)
def test_up_status_demo_down_resume(tmp_path: Path, mode: str) -> None:
    """``caseledger up --anchor-mode MODE``, the demo case through it, down, up again (without the option: new
    cases in event mode; the demo case keeps its mode and reads back)."""
    d = str(tmp_path / "net")
    base = free_port()
    while any(_port_busy(base + i) for i in range(2)):
        base = free_port()
    chain_port = str(free_port())
    net_args = ("--halls", "2", "--data-dir", d, "--port", chain_port, "--hall-port", str(base))
    up = _cli("up", "--detach", *net_args, "--anchor-mode", mode)
    try:
        assert up.returncode == 0, up.stderr
        assert "staff sign-in" in up.stdout and f"http://127.0.0.1:{base}" in up.stdout
        accounts_file = tmp_path / "net" / "halls" / "1" / "demo-accounts.json"
        assert accounts_file.stat().st_mode & 0o777 == 0o600
        assert "TOTP secret" in up.stdout
        st = _cli("status", "--json", "--data-dir", d)
        assert st.returncode == 0, st.stderr
        info = json.loads(st.stdout)
        assert info["running"] and len(info["halls"]) == 2 and all(h["up"] for h in info["halls"])
        bundle = tmp_path / "bundle.json"
        demo = _cli("demo", "--json", "--data-dir", d, "--bundle-out", str(bundle))
        assert demo.returncode == 0, demo.stderr + demo.stdout
        out = json.loads(demo.stdout)
        assert out["verified"] and len(out["events"]) == 6 and all(e["anchored"] for e in out["events"])
        assert out["home_district"] == 350503 and out["accepting_hall"] == 1
        assert json.loads(bundle.read_text()).get("mode", "event") == mode
        assert json.loads(bundle.read_text())["serial"] == out["serial"]
        assert _cli("down", "--data-dir", d).returncode == 0
        assert _cli("status", "--data-dir", d).returncode == 1
        # up again: same chain state, same hall stores
        up2 = _cli("up", "--detach", "--halls", "2", "--data-dir", d, "--port", chain_port, "--hall-port", str(base))
        assert up2.returncode == 0, up2.stderr
        from ledger.dev.demo import HallClient

        regulator = HallClient.demo(tmp_path / "net" / "halls" / "1", f"http://127.0.0.1:{base}", "regulator")
        r = regulator.http.get(f"/cases/{out['serial']}")
        assert r.status_code == 200 and r.json()["status"] == "delivered"
    finally:
        _cli("down", "--data-dir", d)


def _port_busy(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
