"""The Besu QBFT network generator: extraData against Besu's published examples, configs, CLI."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import rlp  # type: ignore[import-untyped]
from eth_account import Account
from typer.testing import CliRunner

from ledger.cli import _register, app
from ledger.errors import ConfigError, InputError
from ledger.network.besu import (
    DEFAULT_GAS_LIMIT,
    ISTANBUL_MIX_HASH,
    BesuNetwork,
    NodeKey,
    decode_qbft_extra_data,
    encode_qbft_extra_data,
    plan_network,
    required_quorum,
)
from tests.support.besu_proxy import BESU_MAX_BATCH_SIZE, BESU_MAX_LOGS_RANGE, BESU_MAX_REQUEST_CONTENT_LENGTH

DISTRICTS = "350502,350503,350582,350583"

# --- Published Besu examples (copied verbatim; never produced by our encoder) -----------------

# 1. Besu's own unit test for `besu rlp encode --type=QBFT_EXTRA_DATA`:
#    hyperledger/besu besu/src/test/java/org/hyperledger/besu/cli/subcommands/rlp/RLPSubCommandTest.java
#    (test `canEncodeToQbftExtraData`, commit 21dd0ac267242b0047649a867da72cbfc98eb07d)
#    https://github.com/hyperledger/besu/blob/main/besu/src/test/java/org/hyperledger/besu/cli/subcommands/rlp/RLPSubCommandTest.java
BESU_TEST_VALIDATORS = ["be068f726a13c8d46c44be6ce9d275600e1735a4", "5ff6f4b66a46a2b2310a6f3a93aaddc0d9a1c193"]
BESU_TEST_EXTRA_DATA = (
    "0xf84fa00000000000000000000000000000000000000000000000000000000000000000ea94be068f726a13c8d"
    "46c44be6ce9d275600e1735a4945ff6f4b66a46a2b2310a6f3a93aaddc0d9a1c193c080c0"
)

# 2. Besu documentation, "Configure QBFT consensus", sample genesis file (block header validator
#    selection), https://besu.hyperledger.org/private-networks/how-to/configure/consensus/qbft#genesis-file
#    source: hyperledger/besu-docs docs/private-networks/how-to/configure/consensus/qbft.md (commit e1c9fb88)
DOCS_GENESIS_VALIDATORS = [
    "64a702e6263b7297a96638cac6ae65e6541f4169",
    "3923390ad55e90c237593b3b0e401f3b08a03185",
    "aefdb9a738c9f433e5b6b212a6d62f6370c2f692",
    "c7eeb9a4e00ce683cf93039b212648e01c6c6b78",
]
DOCS_GENESIS_EXTRA_DATA = (
    "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f8549464a702e6263b7297a96638cac6ae65"
    "e6541f4169943923390ad55e90c237593b3b0e401f3b08a0318594aefdb9a738c9f433e5b6b212a6d62f6370c2f69294c7eeb9a4"
    "e00ce683cf93039b212648e01c6c6b78c080c0"
)

# 3. Same page, section "Generate extra data": toEncode.json (0x-prefixed) and the RLP Besu printed.
DOCS_TOENCODE_VALIDATORS = [
    "0x4592c8e45706cc08b8f44b11e43cba0cfc5892cb",
    "0x06e23768a0f59cf365e18c2e0c89e151bcdedc70",
    "0xc5327f96ee02d7bcbc1bf1236b8c15148971e1de",
    "0xab5e7f4061c605820d3744227eed91ff8e2c8908",
]
DOCS_TOENCODE_EXTRA_DATA = (
    "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f854944592c8e45706cc08b8f44b11e43cba"
    "0cfc5892cb9406e23768a0f59cf365e18c2e0c89e151bcdedc7094c5327f96ee02d7bcbc1bf1236b8c15148971e1de94ab5e7f40"
    "61c605820d3744227eed91ff8e2c8908c080c0"
)

# 4. Same page, contract validator selection genesis: no validators in extraData.
DOCS_NO_VALIDATORS_EXTRA_DATA = "0xe5a00000000000000000000000000000000000000000000000000000000000000000c0c080c0"

# Besu option names this generator writes, each checked to have its own entry ("### `name`") in
# Besu's CLI reference: hyperledger/besu-docs docs/public-networks/reference/cli/options.md
# (commit 03da9693) and docs/private-networks/reference/cli/options.md (commit d3f2749d, the
# permissions-* options). https://besu.hyperledger.org/public-networks/reference/cli/options
DOCUMENTED_OPTIONS = {
    "bootnodes",
    "data-path",
    "genesis-file",
    "host-allowlist",
    "min-gas-price",
    "node-private-key-file",
    "p2p-host",
    "p2p-port",
    "permissions-nodes-config-file",
    "permissions-nodes-config-file-enabled",
    "rpc-http-api",
    "rpc-http-enabled",
    "rpc-http-host",
    "rpc-http-port",
    "rpc-http-max-batch-size",
    "rpc-http-max-request-content-length",
    "rpc-max-logs-range",
    "sync-mode",
}


@pytest.mark.parametrize(
    ("validators", "expected"),
    [
        (BESU_TEST_VALIDATORS, BESU_TEST_EXTRA_DATA),
        (DOCS_GENESIS_VALIDATORS, DOCS_GENESIS_EXTRA_DATA),
        (DOCS_TOENCODE_VALIDATORS, DOCS_TOENCODE_EXTRA_DATA),
        ([], DOCS_NO_VALIDATORS_EXTRA_DATA),
    ],
    ids=["besu-RLPSubCommandTest", "docs-genesis", "docs-toEncode", "docs-contract-selection"],
)
def test_extra_data_matches_published_besu_examples_byte_for_byte(validators: list[str], expected: str) -> None:
    assert encode_qbft_extra_data(validators) == expected


@pytest.mark.parametrize("published", [BESU_TEST_EXTRA_DATA, DOCS_GENESIS_EXTRA_DATA, DOCS_TOENCODE_EXTRA_DATA])
def test_published_extra_data_decodes_and_round_trips(published: str) -> None:
    decoded = decode_qbft_extra_data(published)
    assert decoded.vanity == bytes(32)
    assert decoded.vote is None and decoded.round == 0 and decoded.seals == ()
    assert encode_qbft_extra_data(decoded.validators) == published
    # Same structure as Besu's QbftExtraDataCodec.encode: [vanity, [addresses], [], round scalar, []]
    items = rlp.decode(bytes.fromhex(published[2:]))
    assert len(items) == 5 and items[2] == [] and items[3] == b"" and items[4] == []
    assert [a.hex() for a in items[1]] == [v.lower()[2:] for v in decoded.validators]


def test_decode_reads_votes_rounds_and_seals() -> None:
    recipient = bytes.fromhex(DOCS_GENESIS_VALIDATORS[0])
    raw = rlp.encode([bytes(32), [recipient], [recipient, b"\xaa"], (7).to_bytes(4, "big"), [b"\x01" * 65]])
    d = decode_qbft_extra_data(raw)
    assert d.vote is not None and d.vote[0].lower() == "0x" + DOCS_GENESIS_VALIDATORS[0] and d.vote[1] is True
    assert d.round == 7 and d.seals == (b"\x01" * 65,)
    drop = decode_qbft_extra_data(rlp.encode([bytes(32), [], [recipient, b""], b"", []]))
    assert drop.vote is not None and drop.vote[1] is False


@pytest.mark.parametrize(
    "bad",
    ["0x", "0xc0", "0xc50102030405", rlp.encode([bytes(32), [], [b"\x01" * 20, b"\x01"], b"", []]).hex()],
)
def test_decode_rejects_malformed_extra_data(bad: str) -> None:
    with pytest.raises(InputError):
        decode_qbft_extra_data(bad)


@pytest.mark.parametrize(
    "bad", [["0x1234"], ["not-hex-at-all-not-hex-at-all-not-hex-00"], [BESU_TEST_VALIDATORS[0]] * 2]
)
def test_encode_rejects_bad_validator_lists(bad: list[str]) -> None:
    with pytest.raises(InputError) as e:
        encode_qbft_extra_data(bad)
    assert e.value.field == "validators"


def test_node_key_file_enode_and_address() -> None:
    key = NodeKey.generate()
    text = key.key_file_text
    assert len(text) == 64 and not text.startswith("0x") and int(text, 16) > 0
    assert NodeKey.from_hex(text) == key and NodeKey.from_hex("0x" + text + "\n") == key
    assert len(key.enode_id) == 128 and int(key.enode_id, 16) > 0
    # independent derivation: eth-account's address for the same private key
    assert key.address == Account.from_key(key.private_key).address
    with pytest.raises(InputError):
        NodeKey.from_hex("00" * 32)  # zero is not a valid secp256k1 key
    with pytest.raises(InputError):
        NodeKey.from_hex("abc")


@pytest.fixture
def net() -> BesuNetwork:
    return plan_network(
        DISTRICTS,
        chain_id=4242,
        block_period=2,
        host_template="10.35.0.{index}",
        fund=["0x5ff6f4b66a46a2b2310a6f3a93aaddc0d9a1c193"],
        timestamp=0x5B3D92D7,
    )


def test_genesis_is_a_qbft_free_gas_genesis_with_the_validators(net: BesuNetwork) -> None:
    g = net.genesis()
    cfg = g["config"]
    assert cfg["chainId"] == 4242
    assert cfg["qbft"] == {"blockperiodseconds": 2, "epochlength": 30000, "requesttimeoutseconds": 4}
    assert cfg["zeroBaseFee"] is True and cfg["londonBlock"] == 0
    assert g["gasLimit"] == "0x1C9C380" and int(g["gasLimit"], 16) == DEFAULT_GAS_LIMIT == 30_000_000
    assert g["difficulty"] == "0x1" and g["mixHash"] == ISTANBUL_MIX_HASH and g["nonce"] == "0x0"
    assert g["timestamp"] == "0x5b3d92d7"
    assert g["alloc"] == {"5ff6f4b66a46a2b2310a6f3a93aaddc0d9a1c193": {"balance": hex(10**27)}}
    decoded = decode_qbft_extra_data(g["extraData"])
    assert set(decoded.validators) == {n.address for n in net.nodes}
    # ascending, as Besu's docs ask of toEncode.json
    assert [bytes.fromhex(v[2:]) for v in decoded.validators] == sorted(
        bytes.fromhex(v[2:]) for v in decoded.validators
    )


def test_node_configs_parse_and_use_documented_besu_options(net: BesuNetwork) -> None:
    enodes = {n.district: n.enode_url for n in net.nodes}
    allow = tomllib.loads(net.permissions_toml())
    assert set(allow) == {"nodes-allowlist"}
    for node in net.nodes:
        cfg = tomllib.loads(net.config_toml(node))
        assert set(cfg) <= DOCUMENTED_OPTIONS, set(cfg) - DOCUMENTED_OPTIONS
        assert cfg["rpc-http-enabled"] is True
        assert cfg["rpc-http-host"] == "127.0.0.1"
        assert cfg["rpc-http-api"] == ["ETH", "NET", "QBFT", "WEB3"]
        assert cfg["host-allowlist"] == ["localhost", "127.0.0.1"]
        assert cfg["min-gas-price"] == 0
        # the JSON-RPC limits the tests' Besu proxy enforces, explicit rather than Besu's changing defaults
        assert cfg["rpc-max-logs-range"] == BESU_MAX_LOGS_RANGE
        assert cfg["rpc-http-max-batch-size"] == BESU_MAX_BATCH_SIZE
        assert cfg["rpc-http-max-request-content-length"] == BESU_MAX_REQUEST_CONTENT_LENGTH
        assert cfg["permissions-nodes-config-file-enabled"] is True
        assert cfg["permissions-nodes-config-file"] == "permissions_config.toml"
        assert cfg["p2p-port"] == 30303 and cfg["p2p-host"] == node.host
        others = {enodes[d] for d in enodes if d != node.district}
        assert others <= set(allow["nodes-allowlist"])  # every other node is allowed ...
        assert set(cfg["bootnodes"]) == others  # ... and Besu refuses to start unless bootnodes are allowlisted
    for url in allow["nodes-allowlist"]:
        assert url.startswith("enode://") and len(url.split("@")[0]) == len("enode://") + 128


def test_hall_settings_point_at_the_local_node(net: BesuNetwork) -> None:
    for node in net.nodes:
        s = net.hall_settings(node)
        assert s["CASELEDGER_RPC_URL"] == "http://127.0.0.1:8545"
        assert s["CASELEDGER_CHAIN_ID"] == "4242" and s["CASELEDGER_DISTRICT"] == str(node.district)
        env = dict(line.split("=", 1) for line in net.hall_env(node).splitlines() if line and not line.startswith("#"))
        assert env == s


def test_nodes_sharing_a_host_get_their_own_ports() -> None:
    net = plan_network(DISTRICTS, host_template="127.0.0.1")
    assert [n.p2p_port for n in net.nodes] == [30303, 30304, 30305, 30306]
    assert [n.rpc_port for n in net.nodes] == [8545, 8546, 8547, 8548]
    assert net.hall_settings(net.nodes[2])["CASELEDGER_RPC_URL"] == "http://127.0.0.1:8547"
    assert len({n.enode_url for n in net.nodes}) == 4


@pytest.mark.parametrize(
    ("districts", "kwargs", "field", "named"),
    [
        ("350502,999999", {}, "districts", "999999"),
        ("350502,abc", {}, "districts", "abc"),
        ("350502,350502", {}, "districts", "350502"),
        ("", {}, "districts", "at least one"),
        ("350502", {"host_template": "node{index}.example"}, "host_template", "node1.example"),
        ("350502", {"host_template": "10.0.0.{nope}"}, "host_template", "{district}"),
        ("350502", {"block_period": 0}, "block_period", "at least"),
        ("350502", {"fund": ["0x12"]}, "fund", "0x12"),
    ],
)
def test_plan_refuses_bad_input_naming_it(districts: str, kwargs: dict[str, object], field: str, named: str) -> None:
    with pytest.raises(InputError) as e:
        plan_network(districts, **kwargs)  # type: ignore[arg-type]
    assert e.value.field == field and named in str(e.value)


def test_quorum_is_two_thirds_rounded_up() -> None:
    assert [required_quorum(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [1, 2, 2, 3, 4, 4, 5]


def test_write_creates_the_tree_and_never_overwrites(tmp_path: Path, net: BesuNetwork) -> None:
    out = tmp_path / "network"
    net.write(out)
    assert json.loads((out / "genesis.json").read_text()) == net.genesis()
    summary = (out / "network.json").read_text()
    assert json.loads(summary)["validators"] == list(net.validators)
    assert not any(n.key.key_file_text in summary for n in net.nodes)  # no private key material
    for node in net.nodes:
        d = out / "nodes" / str(node.district)
        assert NodeKey.from_hex((d / "key").read_text()) == node.key
        assert (d / "key").stat().st_mode & 0o777 == 0o600
        assert (d / "key.pub").read_text() == "0x" + node.key.enode_id
        assert (d / "genesis.json").read_text() == (out / "genesis.json").read_text()
        assert tomllib.loads((d / "config.toml").read_text())["rpc-http-host"] == "127.0.0.1"
        assert tomllib.loads((d / "permissions_config.toml").read_text())["nodes-allowlist"]
        assert "CASELEDGER_RPC_URL=http://127.0.0.1:8545" in (d / "caseledger.env").read_text()
        assert (d / "caseledger.env").stat().st_mode & 0o777 == 0o600
        for unit in ("caseledger-hall.service", "besu.service"):
            assert (d / unit).is_file()
    with pytest.raises(ConfigError):
        net.write(out)


# --- CLI ----------------------------------------------------------------------------------------

runner = CliRunner()
_register()


def test_cli_network_init_writes_everything(tmp_path: Path) -> None:
    out = tmp_path / "net"
    out.mkdir()  # an existing empty directory is fine
    r = runner.invoke(app, ["network", "init", "--districts", DISTRICTS, "--out", str(out), "--chain-id", "77"])
    assert r.exit_code == 0, r.output
    assert "Blocks need 3 of 4 validators" in r.output
    genesis = json.loads((out / "genesis.json").read_text())
    assert genesis["config"]["chainId"] == 77 and genesis["config"]["qbft"]["blockperiodseconds"] == 2
    assert sorted(p.name for p in (out / "nodes").iterdir()) == ["350502", "350503", "350582", "350583"]
    assert len(decode_qbft_extra_data(genesis["extraData"]).validators) == 4


def test_cli_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    out = tmp_path / "net"
    out.mkdir()
    (out / "genesis.json").write_text("{}")
    r = runner.invoke(app, ["network", "init", "--districts", DISTRICTS, "--out", str(out)])
    assert r.exit_code == 2
    assert "already exists and is not empty" in r.output and "refusing to overwrite" in r.output
    assert (out / "genesis.json").read_text() == "{}"


def test_cli_bad_district_exits_2_naming_it(tmp_path: Path) -> None:
    out = tmp_path / "net"
    r = runner.invoke(app, ["network", "init", "--districts", "350502,123456", "--out", str(out)])
    assert r.exit_code == 2 and "123456" in r.output
    assert not out.exists()


def test_service_units_restart_a_dead_node_and_keep_files_private(net: BesuNetwork) -> None:
    """Regression (issue 12 item 1): nothing restarted a hall node that died; the production profile's units do."""
    import configparser

    for node in net.nodes:
        for text, runs in ((net.hall_unit(node), "-m node_api"), (net.besu_unit(node), "besu --config-file")):
            unit = configparser.ConfigParser(strict=True, interpolation=None)
            unit.optionxform = str  # type: ignore[assignment,method-assign]
            unit.read_string(text)
            svc = unit["Service"]
            assert svc["Restart"] == "on-failure" and int(svc["RestartSec"]) > 0
            assert svc["UMask"] == "0077" and svc["NoNewPrivileges"] == "yes"
            assert runs in svc["ExecStart"]
            assert int(unit["Unit"]["StartLimitBurst"]) >= 3  # bounded: systemd gives up and shows the failure
        hall = net.hall_unit(node)
        assert "EnvironmentFile=/srv/caseledger/node/caseledger.env" in hall
        assert net.hall_settings(node)["CASELEDGER_KEK_FILE"] == "/srv/caseledger/secrets/kek.json"
        assert "ReadWritePaths=/srv/caseledger/hall /srv/caseledger/secrets" in hall
