"""The fault-injection suite (issue 13): real hall processes, a real chain, real faults.

Every test injects one fault into a running two-hall consortium and then checks the guarantee: every
intake acknowledged to a clerk is present at both halls, anchored exactly once, and verifies against
the chain. Each records its counts (acknowledged / lost / doubled / refused); they are printed at the end
of the run, per anchoring mode, and written to ``build/faults.json`` (git-ignored).

The consortium runs once per anchoring mode (``net`` is parametrised over ``ANCHOR_MODES``, one module-scoped
network each): "anchored exactly once" is read from the chain in both — event mode the case's
``EventAppended`` logs, Merkle mode every acknowledged event's leaf in exactly one anchored batch whose
manifest recomputes to its on-chain root (:mod:`tests.support.anchoring`, shared with the failover and
multi-node tests). A test whose subject does not depend on the mode is marked ``EVENT_MODE_ONLY``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.chain.client import ChainClient
from ledger.chain.deployment import Deployment
from ledger.core.bundle import parse_bundle
from ledger.dev.demo import DemoError, HallClient, demo_id_number, wait_for
from ledger.dev.devchain import free_port
from ledger.dev.localnet import LocalNet
from tests.integration.conftest import ANCHOR_MODES, mode_env
from tests.support.anchoring import ChainEvents, misplaced, tally, verify_on_chain

MATS = ["application_form", "id_card", "household_register", "housing_proof"]
RESULTS: list[dict[str, Any]] = []

EVENT_MODE_ONLY = pytest.mark.parametrize("net", ["event"], indirect=True)
"""For a fault whose subject does not depend on how cases are anchored: collected once, on the event-mode network."""


@dataclass
class FaultCount:
    fault: str
    mode: str = ""
    acknowledged: int = 0
    lost: int = 0
    doubled: int = 0
    refused_while_faulty: int = 0
    notes: list[str] = field(default_factory=list)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RESULTS:
        return
    terminalreporter.write_sep("-", "fault injection: acknowledged / lost / doubled per fault and anchoring mode")
    for r in RESULTS:
        terminalreporter.write_line(
            f"{r['fault']:<40} {r['mode']:<7} acknowledged {r['acknowledged']:>4}  lost {r['lost']}  "
            f"doubled {r['doubled']}  refused {r['refused_while_faulty']}"
        )
    out = Path(__file__).resolve().parents[2] / "build" / "faults.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(RESULTS, ensure_ascii=False, indent=2) + "\n")


@pytest.fixture(scope="module", params=ANCHOR_MODES)
def net(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    """Chain + two halls taking cases in the parameter's anchoring mode; one network per module and mode."""
    env = {**mode_env(str(request.param)), "CASELEDGER_STORE_MIN_FREE_BYTES": str(256 * 1024)}
    n = LocalNet(
        Path(tmp_path_factory.mktemp(f"faults-{request.param}")),
        halls=2,
        chain_port=free_port(),
        hall_ports=[free_port(), free_port()],
        block_time=1.0,
        node_env=env,
    )
    try:
        n.up(timeout=60)
        yield n
    finally:
        n.down()


def client(net: LocalNet, n: int, user: str = "demo") -> HallClient:
    h = net.halls[n - 1]
    return HallClient.demo(h["dir"], h["url"], user, timeout=10)


def intake_form(net: LocalNet, name: str) -> tuple[dict[str, str], list[tuple[str, tuple[str, bytes]]]]:
    files = [(f"materials.{k}", (f"{k}.pdf", f"%PDF- {name} {k}".encode())) for k in MATS]
    data = {
        "item_code": "HJ-MIGRATE",
        "home_district": str(net.halls[1]["district"]),
        "applicant_name": name,
        "applicant_id_number": demo_id_number("35058219851120004"),
        "applicant_phone": "13805950000",
    }
    return data, files


def chain(net: LocalNet) -> ChainClient:
    return ChainClient.connect(net.chain.rpc_url, deployment=Deployment.load(net.data_dir / "deployment.json"))


def on_chain(net: LocalNet) -> ChainEvents:
    """What the chain holds of cases, in the network's mode (Merkle mode: manifests from hall 1, else hall 2)."""
    return ChainEvents(chain(net), net.anchor_mode, [h["url"] for h in net.halls])


def anchored_count(net: LocalNet, serials: list[str] | dict[str, str]) -> dict[str, int]:
    """How many events of each case the chain holds (either mode)."""
    return {s: len(ev) for s, ev in on_chain(net).of(serials).items()}


def settle(net: LocalNet, count: FaultCount, acked: dict[str, str], *, timeout: float = 150) -> None:
    """Every acknowledged intake (serial -> applicant) at both halls, each of its events anchored exactly once
    (read from the chain, in either mode), its bundle verified at both halls."""
    c = chain(net)
    a, b = client(net, 1), client(net, 2)
    count.mode = net.anchor_mode

    def complete(serial: str) -> bool:
        try:
            va, vb = a.case(serial), b.case(serial)
        except httpx.TransportError:  # a hall busy or still coming back from the fault: not yet, not lost
            return False
        return all(
            v is not None and sum(e["anchor"]["state"] == "anchored" for e in v["timeline"]) == 2 for v in (va, vb)
        )

    lost: set[str] = set()
    for serial in acked:
        try:
            wait_for(f"{serial} at both halls, anchored", lambda s=serial: complete(s), timeout)  # type: ignore[misc]
        except Exception:
            lost.add(serial)
            count.notes.append(f"{serial}: not anchored at both halls")
    names = list(acked.values())
    count.acknowledged = len(acked)
    count.doubled = len(names) - len(set(names))
    # the acknowledged events: what either hall holds of each case (a hall that lost a record does not hide it)
    acknowledged: dict[str, list[str]] = {}
    for serial in acked:
        views = [v for v in (a.case(serial), b.case(serial)) if v is not None]
        acknowledged[serial] = sorted({e["commitment"] for v in views for e in v["timeline"]})
    t = tally(on_chain(net).of(acked), acknowledged)
    lost |= {line.split(":")[0] for line in t.lost}
    count.lost = len(lost)
    count.doubled += len(t.doubled)
    count.notes += t.lost + t.doubled
    RESULTS.append(asdict(count))
    assert count.lost == 0 and count.doubled == 0, count
    mirror = net.halls[1]["url"]  # Merkle mode: the bundles are proven complete from hall 2's manifests
    if net.anchor_mode == "merkle":
        wait_for("hall 2 to mirror every batch", lambda: mirrors_every_batch(c, mirror), 60)
        # a Merkle bundle is built from the hall's records' anchors: after a rollback the home hall's received
        # records name the batch's new block only once its indexer has read it again (until then, the old one)
        events = on_chain(net)

        def wrong() -> list[str]:
            on, out = events.of(acked), []
            for s in acked:
                for h in (a, b):
                    tl = _timeline(h, s)
                    out += [f"{h.url} {s}: not answering"] if tl is None else [
                        f"{h.url} {s}: {w}" for w in misplaced(on[s], tl)
                    ]  # fmt: skip
            return out

        try:
            wait_for("both halls' records to name where the chain holds each event", lambda: not wrong(), 60)
        except DemoError as exc:
            raise AssertionError(f"{exc}: {wrong()[:6]}") from exc
    for serial, name in acked.items():
        view = a.case(serial)
        assert view is not None
        intake = next(e for e in view["timeline"] if e["stage"] == "INTAKE")
        assert intake["fields"]["applicant_name"] == name, f"{serial} holds another applicant's case"
        for hall in (a, b):
            assert verify_case_at(hall, c, serial, mirror) == net.anchor_mode


def _timeline(hall: HallClient, serial: str) -> list[dict[str, Any]] | None:
    """The hall's timeline of the case (``None``: the hall is busy for a moment, or does not hold the case)."""
    try:
        view = hall.case(serial)
    except httpx.TransportError:
        return None
    return None if view is None else list(view["timeline"])


def mirrors_every_batch(c: ChainClient, url: str) -> bool:
    """The hall at ``url`` serves the manifest of every batch on chain so far."""
    dep = c.deployment
    assert dep is not None
    return all(
        httpx.get(f"{url}/public/batches/{b.hall_id}/{b.seq}/manifest", timeout=10).status_code == 200
        for b in c.batches_in_range(dep.deployed_block, c.block_number())
    )


def verify_case_at(hall: HallClient, c: ChainClient, serial: str, mirror: str) -> str:
    """The hall's evidence bundle of ``serial`` verifies against the chain with the stand-alone verifier (Merkle
    mode: complete, from the manifests ``mirror`` serves)."""
    r = hall.http.get(f"/cases/{serial}/bundle")
    assert r.status_code == 200, r.text
    bundle = parse_bundle(r.json())
    report = verify_on_chain(c, bundle, mirror)
    events = [(e.index, e.stage, e.status, [r.code for r in e.reasons], e.block) for e in report.events]
    anchors = [(e.index, e.block, e.batch) for e in bundle.events]
    assert report.ok, (hall.url, serial, report.verdict, report.reasons, report.findings, events, anchors)
    if bundle.mode == "merkle":
        assert report.complete_as_of is not None, report
    return bundle.mode
