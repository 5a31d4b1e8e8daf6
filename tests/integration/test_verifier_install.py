"""Issue 14: a verifier an auditor can install alone. A fresh virtualenv gets ``pip install <this repo>``
without the hall extra; there, ``caseledger-verify`` checks a real demo bundle (three hall processes,
the demo scenario over HTTP) against the running chain, web3/fastapi/plyvel are not importable, and
the full ``caseledger`` says in one sentence what to install."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.dev.devchain import free_port
from ledger.dev.localnet import LocalNet
from tests.integration.conftest import FAST_NODE_ENV

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def verifier_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with `pip install <repo>` (base dependencies only)."""
    d = tmp_path_factory.mktemp("auditor") / "venv"
    venv.EnvBuilder(with_pip=True).create(d)
    pip = [str(d / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    out = subprocess.run([*pip, str(ROOT)], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    return d


@pytest.fixture(scope="module")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    data = Path(tmp_path_factory.mktemp("net"))
    net = LocalNet(data, halls=2, chain_port=free_port(), hall_ports=[free_port(), free_port()], node_env=FAST_NODE_ENV)
    try:
        net.up(timeout=60)
        bundle = data / "demo-bundle.json"
        cli = str(Path(sys.executable).with_name("caseledger"))
        out = subprocess.run(
            [cli, "demo", "--data-dir", str(data), "--bundle-out", str(bundle), "--json"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        yield bundle, net.chain.rpc_url
    finally:
        net.down()


def test_verifier_installs_alone_and_verifies_a_demo_bundle(verifier_venv: Path, demo_bundle: tuple[Path, str]) -> None:
    bundle, rpc = demo_bundle
    dep = bundle.parent / "deployment.json"  # the consortium's published deployment: the addresses to trust
    bin_ = verifier_venv / "bin"
    out = subprocess.run(
        [str(bin_ / "caseledger-verify"), str(bundle), "--rpc", rpc, "--json", "--deployment", str(dep)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["verdict"] == "match" and len(report["events"]) == 6 and report["materials"]
    text = subprocess.run(
        [str(bin_ / "caseledger-verify"), str(bundle), "--rpc", rpc, "--deployment", str(dep)],
        capture_output=True,
        text=True,
    )
    assert text.returncode == 0 and "全部一致" in text.stdout
    # one document of the bundle, checked alone
    doc = verifier_venv.parent / "身份证.jpg"
    doc.write_bytes(b"\xff\xd8\xff\xe0 fictitious ID card scan")
    one = subprocess.run(
        [str(bin_ / "caseledger-verify"), "--document", str(doc), "--bundle", str(bundle), "--rpc", rpc]
        + ["--deployment", str(dep)],
        capture_output=True,
        text=True,
    )
    assert one.returncode == 0 and "一致" in one.stdout, one.stdout + one.stderr


def test_the_auditors_install_has_no_hall_stack(verifier_venv: Path) -> None:
    py = str(verifier_venv / "bin" / "python")
    for module in ("web3", "fastapi", "plyvel", "eth_account", "uvicorn", "httpx", "requests"):
        r = subprocess.run([py, "-c", f"import {module}"], capture_output=True, text=True)
        assert r.returncode != 0, f"{module} is importable in the verifier-only install"
    r = subprocess.run([py, "-c", "import ledger.verify.cli, ledger.core.bundle"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    full = subprocess.run([str(verifier_venv / "bin" / "caseledger"), "up"], capture_output=True, text=True, timeout=60)
    assert full.returncode == 2
    lines = full.stderr.strip().splitlines()
    assert len(lines) == 1 and "caseledger[hall]" in lines[0] and "Traceback" not in full.stderr
