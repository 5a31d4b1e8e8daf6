"""Issue 14: a verifier an auditor can install alone. A fresh virtualenv gets ``pip install <this repo>``
without the hall extra; there, ``caseledger-verify`` checks a real demo bundle (three hall processes,
the demo scenario over HTTP) against the running chain, and one document of a Merkle-mode case anchored on
that same chain (a second deployment, tests/integration/merkle_case.py: seconds, no second network);
web3/fastapi/plyvel are not importable, and the full ``caseledger`` says in one sentence what to install."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from ledger.chain.client import ChainClient
from ledger.core.materials import MaterialFile, MaterialSet
from ledger.core.records import SaltedRecord
from ledger.core.stages import Stage
from ledger.dev.devchain import dev_admin, free_port
from ledger.dev.localnet import LocalNet
from tests.integration.conftest import FAST_NODE_ENV
from tests.integration.merkle_case import anchor_merkle_case

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


def test_verifier_alone_checks_a_merkle_mode_document(
    verifier_venv: Path, demo_bundle: tuple[Path, str], tmp_path: Path
) -> None:
    """A Merkle-mode case (two events in one batch) on the demo's chain: the stand-alone ``--document`` check
    proves a file through its record, its leaf and the batch root it reads from the chain; a forged file is not."""
    _, rpc = demo_bundle
    dep = ChainClient.deploy(rpc, dev_admin())
    admin = ChainClient.connect(rpc, deployment=dep, account=dev_admin())
    key = Account.create()
    hall = admin.register_hall(key.address, 350502, "鲤城区行政服务中心", "http://127.0.0.1:1")
    admin.fund(key.address, 10**18)
    writer = ChainClient.connect(rpc, deployment=dep, account=key)
    files = [("id_card", "身份证.pdf", b"%PDF-1.7 id card " * 20), ("form", "申请表.pdf", b"%PDF-1.7 form " * 20)]
    ms = MaterialSet.new([MaterialFile.of(k, n, d) for k, n, d in files])
    intake = SaltedRecord.new("TB-MERKLE-DOC", Stage.INTAKE, {"item_code": "BDC-001"}, at="2026-11-23T09:59:00+08:00")
    materials = SaltedRecord.new(
        "TB-MERKLE-DOC",
        Stage.MATERIALS,
        {"materials_root": ms.root.hex(), "materials_count": len(files)},
        at="2026-11-23T09:59:00+08:00",
        intake_commitment="0x" + intake.commitment.hex(),
    )
    bundle = anchor_merkle_case(
        admin,
        accepting_hall=hall,
        serial="TB-MERKLE-DOC",
        records=[intake, materials],
        writers=[writer, writer],
        home_district=350502,
        item_code="BDC-001",
        materials=ms,
        contents=[d for _, _, d in files],
        manifests=tmp_path / "manifests",
    )
    bundle_file = tmp_path / "merkle-bundle.json"
    bundle_file.write_text(bundle.dump())
    doc = tmp_path / "身份证.pdf"
    doc.write_bytes(files[0][2])
    verify = [str(verifier_venv / "bin" / "caseledger-verify"), "--document", str(doc), "--bundle", str(bundle_file)]
    trusted = ["--rpc", rpc, "--ledger", dep.ledger, "--json"]
    one = subprocess.run([*verify, *trusted], capture_output=True, text=True, timeout=120)
    assert one.returncode == 0, one.stdout + one.stderr
    said = json.loads(one.stdout)
    assert said["verdict"] == "match" and said["stage"] == "MATERIALS" and said["batch"] == f"{hall}/0", said
    doc.write_bytes(files[0][2] + b"x")
    forged = subprocess.run([*verify, *trusted], capture_output=True, text=True, timeout=120)
    assert forged.returncode == 1 and json.loads(forged.stdout)["verdict"] == "mismatch", forged.stdout


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
