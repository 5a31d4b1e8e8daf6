"""The Clique dev network's files, without starting geth: genesis, peering TOML, the pinned version; the
choice of branch when a stalled network has split."""

from __future__ import annotations

import re
from pathlib import Path

from ledger.dev.clique import GETH_VERSION, NetworkSpec, NodeSpec, _genesis, _toml, branch_to_keep
from ledger.dev.devchain import dev_admin

ROOT = Path(__file__).resolve().parents[2]


def _spec(n: int = 4) -> NetworkSpec:
    nodes = [
        NodeSpec(n=i, signer=f"0x{(0x50 - i):040x}", enode=f"enode://{'ab' * 64}@127.0.0.1:{30300 + i}?discport=0",
                 p2p_port=30300 + i, http_port=8544 + i, authrpc_port=8550 + i)
        for i in range(1, n + 1)
    ]  # fmt: skip
    return NetworkSpec(geth_version=GETH_VERSION, chain_id=1515, period=1, nodes=nodes)


def test_the_makefile_builds_the_geth_version_the_code_expects() -> None:
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"^GETH_VERSION\s*:=\s*(\S+)$", make, re.M)[1] == GETH_VERSION  # type: ignore[index]
    assert "GETH         := .cache/geth/$(GETH_VERSION)/geth" in make
    assert ".cache/" in (ROOT / ".gitignore").read_text().splitlines()


def test_genesis_lists_the_signers_ascending_and_stops_before_shanghai() -> None:
    g = _genesis(_spec())
    extra = g["extradata"]
    assert len(bytes.fromhex(extra[2:])) == 32 + 4 * 20 + 65
    signers = [extra[2 + 64 + 40 * i : 2 + 64 + 40 * (i + 1)] for i in range(4)]
    assert signers == sorted(signers, key=lambda a: int(a, 16))
    assert signers[0] == f"{0x4C:040x}"  # node 4's address is the smallest
    cfg = g["config"]
    assert cfg["clique"] == {"period": 1, "epoch": 30000}
    assert cfg["londonBlock"] == 0 and cfg["grayGlacierBlock"] == 0
    for later in ("shanghaiTime", "cancunTime", "terminalTotalDifficulty", "mergeNetsplitBlock"):
        assert later not in cfg
    assert g["baseFeePerGas"] == "0x0"
    assert dev_admin().address[2:].lower() in g["alloc"]


def test_each_node_peers_with_every_other_node_as_static_and_trusted() -> None:
    spec = _spec()
    others = [s.enode for s in spec.nodes if s.n != 1]
    toml = _toml(others)
    assert "MaxPeers = 3\nDialRatio = 1\n" in toml
    for key in ("TrustedNodes", "StaticNodes"):
        block = toml.split(f"{key} = [", 1)[1].split("]", 1)[0]
        assert [e.strip().strip(",").strip('"') for e in block.strip().splitlines()] == others


def test_a_stalled_network_on_one_branch_is_left_alone() -> None:
    assert branch_to_keep({1: (54, "0xaa"), 3: (54, "0xaa"), 4: (54, "0xaa")}) is None
    assert branch_to_keep({}) is None


def test_a_split_keeps_the_branch_most_nodes_are_on_and_rewinds_the_others() -> None:
    # the dead-lock of one signer lost at a bad moment: node 1 on one block 55, nodes 3 and 4 on another
    assert branch_to_keep({1: (55, "0xa1"), 3: (55, "0xb2"), 4: (55, "0xb2")}) == (3, [1])
    # as many nodes on each side: the longer branch, then the lowest-numbered node's, the same every time
    assert branch_to_keep({1: (55, "0xa1"), 2: (56, "0xb2")}) == (2, [1])
    assert branch_to_keep({2: (55, "0xb2"), 1: (55, "0xa1")}) == (1, [2])
    assert branch_to_keep({1: (55, "0xa1"), 2: (55, "0xb2"), 3: (55, "0xc3")}) == (1, [2, 3])
