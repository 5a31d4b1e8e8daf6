"""``caseledger up | down | status | demo``: a local consortium of hall processes."""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ledger.cli import DEFAULT_DATA_DIR, DataDir, app
from ledger.core.suites import suite_named
from ledger.dev.clique import CliqueNet
from ledger.dev.demo import HallClient, run_demo
from ledger.dev.devchain import free_port
from ledger.dev.localnet import AnchorMode, ChainKind, LocalNet

Port = Annotated[
    int,
    typer.Option(
        "--port", envvar="CASELEDGER_CHAIN_PORT", help="Chain JSON-RPC port (Clique: node 1's; node n: + n - 1)."
    ),
]


def _print_halls(halls: list[dict[str, Any]], net: LocalNet) -> None:
    if isinstance(net.chain, CliqueNet):
        typer.echo(f"chain: geth Clique, {net.chain.count} signer nodes, a block every {net.chain.period} s")
        for st in net.chain.status():
            typer.echo(f"  node {st.n}: {st.rpc_url}  signer {st.signer}")
    else:
        typer.echo(f"chain: {net.chain.rpc_url}")
    for h in halls:
        on = f", on node {h['node']} (failover: the others)" if h.get("node") else ""
        typer.echo(
            f"hall {h['hall_id']} {h['name']} (district {h['district']}): {h['url']}  (API docs {h['url']}/docs){on}"
        )
        try:
            accounts = json.loads(Path(h["accounts_file"]).read_text())
        except (KeyError, OSError, ValueError):
            continue
        typer.echo(f"    staff sign-in (POST /auth/login; demo accounts from {h['accounts_file']}, mode 0600):")
        for user, c in accounts.items():
            totp = f"  TOTP secret {c['totp_secret']}" if c.get("totp_secret") else ""
            typer.echo(f"      {user:<10} password {c['password']}{totp}  roles {','.join(c['roles'])}")


@app.command("up")
def up(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    halls: Annotated[int, typer.Option("--halls", help="How many halls (separate processes).")] = 3,
    detach: Annotated[bool, typer.Option("--detach", help="Leave everything running in the background.")] = False,
    port: Port = 8545,
    hall_port: Annotated[
        int | None, typer.Option("--hall-port", help="Port of hall 1; hall n listens on this + n - 1 (default 8601..).")
    ] = None,
    suite: Annotated[
        str, typer.Option("--suite", envvar="CASELEDGER_SUITE", help="Hash suite of a new deployment: intl or gm.")
    ] = "intl",
    chain: Annotated[
        ChainKind,
        typer.Option(
            "--chain", help="anvil: one local node (default); clique: geth Clique signer nodes (Go builds geth)."
        ),
    ] = "anvil",
    nodes: Annotated[int, typer.Option("--nodes", help="Clique: how many signer nodes.", min=2, max=9)] = 4,
    anchor_mode: Annotated[
        AnchorMode | None,
        typer.Option(
            "--anchor-mode",
            envvar="CASELEDGER_ANCHOR_MODE",
            help="How the halls anchor the cases they take from now on: event (one log per event, the default) or "
            "merkle (one root per batch). Cases already taken keep their mode.",
        ),
    ] = None,
) -> None:
    """Start the local chain, deploy, register the halls and run one node process per hall.

    With ``--chain clique`` the chain is NODES geth signer nodes peered on 127.0.0.1; hall n uses
    node n and the others as failover endpoints. A supervisor process keeps the halls running: a hall
    that dies is restarted (with back-off; see `caseledger status`). Running it again resumes: same
    chain state, keys and hall stores.
    """
    ports = [hall_port + i for i in range(halls)] if hall_port else None
    previous = LocalNet.load(data_dir)
    if previous is not None and previous.kind != chain:
        typer.echo(
            f"caseledger: a consortium on the {previous.kind} chain runs in {data_dir}: stop it with "
            f"`caseledger down` or use another --data-dir",
            err=True,
        )
        raise typer.Exit(2)
    net = LocalNet(
        data_dir,
        halls=halls,
        chain_port=port,
        hall_ports=ports,
        supervise=True,
        suite=suite_named(suite),
        chain=chain,
        nodes=nodes,
        node_env={"CASELEDGER_ANCHOR_MODE": anchor_mode or (previous.anchor_mode if previous else "event")},
    )
    started = net.up()
    _print_halls(started, net)
    if detach:
        typer.echo("running in the background; stop with `caseledger down`")
        return
    typer.echo("running; press Ctrl-C to stop (data is kept in " + str(data_dir) + ")")
    stop = {"now": False}

    def _on_term(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _on_term)
    if isinstance(net.chain, CliqueNet):
        net.chain.watch()  # restarts sealing if the chain stalls (see ledger.dev.clique.CliqueNet.kick_if_stalled)
    try:
        while not stop["now"] and net.state_file.exists():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    typer.echo("stopping ...")
    net.down()
    typer.echo("stopped")


@app.command("down")
def down(data_dir: DataDir = DEFAULT_DATA_DIR, port: Port = 8545) -> None:
    """Stop the hall processes and the local chain, every Clique node included (all data is kept)."""
    net = LocalNet.load(data_dir)
    if net is None:  # no state file: stop whatever hall and chain pid files exist
        kind: ChainKind = "clique" if CliqueNet.load(data_dir) is not None else "anvil"
        net = LocalNet(data_dir, chain_port=port, halls=0, chain=kind)
        halls_dir = data_dir / "halls"
        net.count = len(list(halls_dir.iterdir())) if halls_dir.exists() else 0
    net.down()
    typer.echo("stopped")


@app.command("reset")
def reset(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    port: Port = 8545,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Development only: stop everything and delete the local chain state, the deployment and every hall store.

    Hall keys are kept (they are registered again on the new chain). `make demo` then starts clean, e.g.
    after an upgrade to another evidence format.
    """
    doomed = [data_dir / "chain", data_dir / "deployment.json", data_dir / "consortium.json"]
    doomed += [data_dir / "demo-bundle.json"]
    halls_dir = data_dir / "halls"
    if halls_dir.exists():
        for d in sorted(halls_dir.iterdir()):
            if d.is_dir():
                doomed += [d / "store", d / "datakeys"]  # the data-key store goes with the store it serves
    present = [p for p in doomed if p.exists()]
    if not present:
        typer.echo(f"nothing to reset in {data_dir}")
        return
    typer.echo("this deletes, for good:\n  " + "\n  ".join(str(p) for p in present))
    if not yes and not typer.confirm("删除本机开发链与各大厅数据？ / Delete the local chain and every hall's data?"):
        typer.echo("nothing deleted")
        raise typer.Exit(1)
    net = LocalNet.load(data_dir) or LocalNet(data_dir, chain_port=port, halls=0)
    if net.count == 0 and halls_dir.exists():
        net.count = len([d for d in halls_dir.iterdir() if d.is_dir()])
    net.down()
    for p in present:
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()
    typer.echo("reset: run `make demo` (or `caseledger up`) to start clean")


@app.command("status")
def status(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The running consortium: chain, deployment, each hall's URL, district and health."""
    net = LocalNet.load(data_dir)
    if net is None:
        if as_json:
            typer.echo(json.dumps({"running": False}))
        else:
            typer.echo("no consortium is running here (start one with `caseledger up`)")
        raise typer.Exit(1)
    st = net.status()
    if as_json:
        typer.echo(json.dumps({"running": True, **st}, ensure_ascii=False, default=str))
        return
    c = st["chain"]
    if c["kind"] == "clique":
        typer.echo(
            f"chain: geth Clique (chain id {c['chain_id']}, a block every {c['period']} s), best block {c['block']}"
        )
        for nd in c["nodes"]:
            if not nd["up"]:
                typer.echo(f"  node {nd['n']} {nd['rpc_url']}: DOWN ({nd['error']})")
                continue
            state = "STALLED (`caseledger up --chain clique` restarts sealing)" if nd["stalled"] else "up"
            typer.echo(
                f"  node {nd['n']} {nd['rpc_url']}: {state}, block {nd['head']} ({nd['block_age']:.1f} s ago), "
                f"{nd['peers']} peers, {'sealing' if nd['mining'] else 'not sealing'}"
            )
    else:
        typer.echo(
            f"chain {c['rpc_url']}: "
            + (f"block {c.get('block')}, chain id {c.get('chain_id')}" if c["running"] else "DOWN")
        )
    if st["deployment"]:
        d = st["deployment"]
        typer.echo(f"deployment: HallRegistry {d['registry']}  CaseLedger {d['ledger']}")
    sup = st.get("supervisor_pid")
    typer.echo(f"supervisor: {'pid ' + str(sup) if sup else 'not running (halls are not restarted if they die)'}")
    for h in st["halls"]:
        sv = h.get("supervisor") or {}
        restarts = ""
        if sv:
            restarts = f"; supervisor: {sv.get('state')}, {sv.get('restarts', 0)} restart(s)"
            if sv.get("last_exit"):
                restarts += f", last exit: {sv['last_exit']}"
        if not h["up"]:
            typer.echo(f"hall {h['hall_id']} {h['name']} ({h['district']}) {h['url']}: DOWN{restarts}")
            continue
        hh = h["health"]
        on = ""
        if h.get("own_node"):
            which = f"node {h['node']}" if h.get("node") else h.get("rpc_url")
            own = h.get("node") == h["own_node"]
            on = f", on {which}" + (" (its own)" if own else f" (failover from node {h['own_node']})")
        typer.echo(
            f"hall {h['hall_id']} {h['name']} ({h['district']}) {h['url']}: chain "
            f"{'ok' if hh['chain']['connected'] else 'unreachable'}{on}, outbox {hh['outbox']['pending']} pending, "
            f"indexer lag {hh['indexer']['lag']}{restarts}"
        )


@app.command("demo")
def demo(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    bundle_out: Annotated[
        Path | None, typer.Option("--bundle-out", help="Write the case's evidence bundle (from hall A) here.")
    ] = None,
) -> None:
    """The cross-district scenario through the halls' HTTP APIs (on a temporary consortium if none runs)."""
    net = LocalNet.load(data_dir)
    temp: Path | None = None
    if net is None or not all(h["up"] for h in net.status()["halls"]) or len(net.halls) < 2:
        temp = Path(tempfile.mkdtemp(prefix="caseledger-demo-"))
        if not as_json:
            typer.echo(f"no consortium running at {data_dir}: starting a temporary one in {temp}")
        net = LocalNet(temp, halls=3, chain_port=free_port(), hall_ports=[free_port() for _ in range(3)])
        net.up()

    def say(message: str) -> None:
        if not as_json:
            typer.echo(message)

    try:
        ha, hb = net.halls[0], net.halls[1]
        a = HallClient.demo(ha["dir"], ha["url"], "clerk")
        b = HallClient.demo(hb["dir"], hb["url"], "officer")
        result = run_demo(a, b, home_district=int(hb["district"]), log=say)
        if bundle_out is not None:
            exporter = HallClient.demo(ha["dir"], ha["url"], "dispute")
            r = exporter.http.get(f"/cases/{result['serial']}/bundle", params={"include_files": "true"})
            r.raise_for_status()
            bundle_out.write_text(r.text, encoding="utf-8")
            result["bundle"] = str(bundle_out)
            say(f"evidence bundle written to {bundle_out} (check it with `caseledger-verify`)")
    finally:
        if temp is not None:
            net.down()
            shutil.rmtree(temp, ignore_errors=True)
    ok = result["verified"] and all(e["anchored"] for e in result["events"])
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        typer.echo(
            f"\ncase {result['serial']}: accepted at hall {result['accepting_hall']}, "
            f"home district {result['home_district']}"
        )
        for e in result["events"]:
            state = f"anchored in block {e['block']} tx {e['tx']}" if e["anchored"] else "NOT anchored"
            typer.echo(f"  #{e['index']} {e['stage']:<10} by hall {e['writer_hall']}: {state}")
        typer.echo("package verified at both halls" if result["verified"] else "package NOT verified at both halls")
    if not ok:
        raise typer.Exit(1)
