"""A local consortium for development and demos: dev chain, deployment, registered halls.

Everything lives under one data directory::

    <data_dir>/chain/            anvil state and log (the default chain)
    <data_dir>/clique/           or: the geth Clique network (ledger.dev.clique)
    <data_dir>/deployment.json   chain id and contract addresses
    <data_dir>/halls/<n>/        hall n: keystore.json, keystore.password, hall.json, store/

Running the set-up again reuses what exists: the same deployment, the same hall keys.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from ledger.chain.client import ChainClient
from ledger.chain.deployment import Deployment
from ledger.core.suites import INTL, Suite, suite_named
from ledger.dev.devchain import dev_admin
from ledger.errors import ConfigError
from ledger.hall.keystore import create_keystore, load_keystore, write_password_file
from ledger.hall.store import Store

__all__ = ["DEMO_HALLS", "HallSpec", "LocalChain", "ensure_deployment", "ensure_halls", "hall_dir"]


class LocalChain(Protocol):
    """What deploying and registering need of a local chain: anvil's DevChain or a CliqueNet."""

    data_dir: Path

    @property
    def rpc_url(self) -> str: ...


@dataclass(frozen=True)
class HallSpec:
    name: str
    district: int
    port: int


# Quanzhou (泉州市), the city of the "区块链+泉城通办" pilot: GB/T 2260 county-level codes.
DEMO_HALLS: tuple[HallSpec, ...] = (
    HallSpec("鲤城区行政服务中心", 350502, 8601),
    HallSpec("丰泽区行政服务中心", 350503, 8602),
    HallSpec("晋江市行政服务中心", 350582, 8603),
    HallSpec("南安市行政服务中心", 350583, 8604),
    HallSpec("石狮市行政服务中心", 350581, 8605),
    HallSpec("惠安县行政服务中心", 350521, 8606),
)

DEV_FUNDING_WEI = 1_000 * 10**18


def hall_dir(data_dir: Path, n: int) -> Path:
    return data_dir / "halls" / str(n)


def ensure_deployment(chain: LocalChain, *, suite: Suite = INTL) -> tuple[Deployment, bool]:
    """Deploy the contracts (hash suite ``suite``) unless ``deployment.json`` exists; (deployment, created).

    A ``deployment.json`` whose contracts the chain no longer holds (its state was lost: another block
    at the deployment's height, no code at the addresses) is refused, never silently replaced: the halls'
    stores hold anchors of that deployment. One of another evidence format is refused too. ``caseledger reset`` is
    the explicit way to start over.
    """
    path = chain.data_dir / "deployment.json"
    if path.exists():
        dep = Deployment.load(path)
        if ChainClient.connect(chain.rpc_url, deployment=dep).deployment_alive():
            return dep, False
        raise ConfigError(
            f"the chain at {chain.rpc_url} no longer holds the deployment of {path} (its state was lost), and the "
            "halls' stores refer to it: nothing was deployed; to start over on a development machine run "
            "`caseledger reset`"
        )
    dep = ChainClient.deploy(chain.rpc_url, dev_admin(), suite=suite)
    dep.save(path)
    return dep, True


def ensure_halls(chain: LocalChain, dep: Deployment, count: int, *, host: str = "127.0.0.1") -> list[dict[str, object]]:
    """Create keys for and register the first ``count`` demo halls; returns their descriptions."""
    if not 1 <= count <= len(DEMO_HALLS):
        raise ValueError(f"--halls must be between 1 and {len(DEMO_HALLS)}")
    admin = ChainClient.connect(chain.rpc_url, deployment=dep, account=dev_admin())
    out: list[dict[str, object]] = []
    for n, spec in enumerate(DEMO_HALLS[:count], start=1):
        d = hall_dir(chain.data_dir, n)
        ks, pw = d / "keystore.json", d / "keystore.password"
        if ks.exists():
            acct = load_keystore(ks, pw.read_text().strip())
        else:
            acct = create_keystore(ks, write_password_file(pw))
        endpoint = f"http://{host}:{spec.port}"
        info = admin.hall_of(acct.address)
        created = info is None
        if info is None:
            hall_id = admin.register_hall(acct.address, spec.district, spec.name, endpoint)
            admin.fund(acct.address, DEV_FUNDING_WEI)
            admin.grant_role("DISPUTE_OFFICER_ROLE", acct.address)
        else:
            hall_id = info.hall_id
        if created and not (d / "store").exists():
            Store.init(d / "store", hall_id=hall_id, suite=suite_named(dep.suite)).close()  # never re-created later
        desc = {**asdict(spec), "hall_id": hall_id, "account": acct.address, "endpoint": endpoint, "dir": str(d)}
        (d / "hall.json").write_text(json.dumps(desc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        out.append({**desc, "created": created})
    return out
