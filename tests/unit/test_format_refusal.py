"""Format 2 refuses what format 1 left behind, in one sentence with the way out (and `caseledger reset`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.chain.deployment import Deployment
from ledger.errors import ConfigError
from ledger.hall.store import Store

FORMAT_1 = {
    "chain_id": 31337,
    "registry": "0x" + "11" * 20,
    "ledger": "0x" + "22" * 20,
    "deployed_block": 1,
    "admin": "",
}


def test_a_format_1_deployment_is_refused_with_the_way_out(tmp_path: Path) -> None:
    f = tmp_path / "deployment.json"
    f.write_text(json.dumps(FORMAT_1))
    with pytest.raises(ConfigError) as err:
        Deployment.load(f)
    msg = str(err.value)
    assert "format-1 deployment" in msg and "caseledger reset" in msg and "\n" not in msg
    f.write_text(json.dumps({**FORMAT_1, "format_version": 2, "suite": "gm"}))
    assert Deployment.load(f).suite == "gm"


def test_a_format_1_store_is_refused_and_a_new_store_is_marked(tmp_path: Path) -> None:
    from ledger.core.suites import GM
    from ledger.hall.keys import STORE_INIT_KEY

    with Store.init(tmp_path / "new", hall_id=1) as s:
        assert s.marker()["format"] == 2 and s.marker()["suite"] == "intl"
        s.check_format()
    with Store.init(tmp_path / "old", hall_id=1) as s:  # what a format-1 release wrote: a marker without a format
        s.put_json(STORE_INIT_KEY, {k: v for k, v in s.marker().items() if k not in ("format", "suite")})
        with pytest.raises(ConfigError, match="format 1.*caseledger reset"):
            s.check_format()
    with Store(tmp_path / "new", suite=GM) as s, pytest.raises(ConfigError, match="another deployment"):
        s.check_format()


def test_caseledger_reset_deletes_chain_and_stores_after_confirmation(tmp_path: Path) -> None:
    data = tmp_path / "cl"
    for p in ("chain/state.json", "halls/1/store/CURRENT", "halls/1/keystore.json", "deployment.json"):
        (data / p).parent.mkdir(parents=True, exist_ok=True)
        (data / p).write_text("x")
    cli = [sys.executable, "-c", "from ledger.entry import main; main()", "reset", "--data-dir", str(data)]
    no = subprocess.run(cli, input="n\n", capture_output=True, text=True, timeout=60)
    assert no.returncode == 1 and (data / "chain").exists()
    yes = subprocess.run(cli, input="y\n", capture_output=True, text=True, timeout=60)
    assert yes.returncode == 0, yes.stdout + yes.stderr
    assert not (data / "chain").exists() and not (data / "deployment.json").exists()
    assert not (data / "halls/1/store").exists() and (data / "halls/1/keystore.json").exists()
