"""`caseledger chain up|down|status` and `caseledger deploy` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.dev.devchain import free_port

pytestmark = pytest.mark.integration


def cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from ledger.cli import main; main()", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_chain_deploy_halls_and_restart_keep_state(tmp_path: Path) -> None:
    port = str(free_port())
    try:
        up = cli("chain", "up", "--port", port, data_dir=tmp_path)
        assert up.returncode == 0 and "started" in up.stdout, up.stderr
        first = cli("deploy", "--port", port, "--halls", "3", data_dir=tmp_path)
        assert first.returncode == 0, first.stderr
        assert "deployed" in first.stdout and first.stdout.count("registered") == 3
        dep = json.loads((tmp_path / "deployment.json").read_text())
        assert dep["chain_id"] == 31337

        # keys are stored encrypted only
        ks = json.loads((tmp_path / "halls" / "1" / "keystore.json").read_text())
        assert "crypto" in ks and "ciphertext" in ks["crypto"]

        assert cli("chain", "down", "--port", port, data_dir=tmp_path).returncode == 0
        assert cli("chain", "status", "--port", port, data_dir=tmp_path).returncode == 1
        assert cli("chain", "up", "--port", port, data_dir=tmp_path).returncode == 0
        again = cli("deploy", "--port", port, "--halls", "3", data_dir=tmp_path)
        assert again.returncode == 0, again.stderr
        assert "reusing deployment" in again.stdout and again.stdout.count("already registered") == 3
        assert json.loads((tmp_path / "deployment.json").read_text()) == dep
        status = cli("chain", "status", "--port", port, "--json", data_dir=tmp_path)
        assert json.loads(status.stdout)["running"] is True
    finally:
        cli("chain", "down", "--port", port, data_dir=tmp_path)


def test_deploy_without_chain_says_so(tmp_path: Path) -> None:
    out = cli("deploy", "--port", str(free_port()), data_dir=tmp_path)
    assert out.returncode != 0
    assert "not running" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "deployment.json").exists()


def test_lost_chain_state_is_refused_not_silently_redeployed(tmp_path: Path) -> None:
    """Regression (issue 15): with the dev chain's state lost, `caseledger up`/`deploy` redeployed at the
    same addresses and the halls only logged "insufficient funds"."""
    port = str(free_port())
    try:
        assert cli("chain", "up", "--port", port, data_dir=tmp_path).returncode == 0
        assert cli("deploy", "--port", port, "--halls", "1", data_dir=tmp_path).returncode == 0
        before = (tmp_path / "deployment.json").read_text()
        assert cli("chain", "down", "--port", port, data_dir=tmp_path).returncode == 0
        (tmp_path / "chain" / "state.json").unlink()  # the chain's state is lost
        assert cli("chain", "up", "--port", port, data_dir=tmp_path).returncode == 0
        out = cli("deploy", "--port", port, "--halls", "1", data_dir=tmp_path)
        assert out.returncode == 2, out.stdout
        assert "no longer holds the deployment" in out.stderr and "caseledger reset" in out.stderr
        assert "Traceback" not in out.stderr and out.stderr.count("\n") == 1  # one sentence
        assert (tmp_path / "deployment.json").read_text() == before  # nothing replaced
    finally:
        cli("chain", "down", "--port", port, data_dir=tmp_path)
