"""``caseledger hall …``: rotate a hall's key (local consortium), initialise or recover a store, rotate the
key-encryption key (without downtime, through the running node), accept data keys lost for good."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer

from ledger.chain.client import ChainClient
from ledger.chain.deployment import Deployment
from ledger.cli import DEFAULT_DATA_DIR, DataDir, app, fail
from ledger.core.aead import cipher_of_suite
from ledger.core.suites import suite_named
from ledger.dev.devchain import dev_admin
from ledger.dev.localnet import LocalNet, hall_pid, node_running, start_hall, stop_hall, wait_healthy
from ledger.hall.accounts import AccountBook, open_kek
from ledger.hall.atrest import AtRest, open_hall_keys
from ledger.hall.backup import ADMIN_TOKEN_FILE, ADMIN_TOKEN_HEADER, DATA_KEYS_DIR, KEK_FILE
from ledger.hall.datakeys import DataKeys
from ledger.hall.integrity import mark_for_recovery
from ledger.hall.kekrotation import rotate_offline
from ledger.hall.keyrotation import rotate_hall_key
from ledger.hall.store import Store

hall_app = typer.Typer(
    help="Hall administration: init, recover, rotate-key, rotate-kek, accept-lost-keys.", no_args_is_help=True
)
app.add_typer(hall_app, name="hall")


@hall_app.command("rotate-key")
def rotate_key(
    n: Annotated[int, typer.Argument(help="Hall number in the local consortium (1, 2, ...).")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """New encrypted keystore, registry rotation by the dev admin, node restarted with the new key.

    The old key is refused on chain from the rotation on; the hall's store and outbox are kept.
    """
    net = LocalNet.load(data_dir)
    if net is None:
        fail(f"no consortium is running at {data_dir} (start one with `caseledger up`)")
        return
    if not 1 <= n <= len(net.halls):
        fail(f"there is no hall {n} (the consortium has {len(net.halls)})", 2)
    hall = net.halls[n - 1]
    d = Path(hall["dir"])
    dep = Deployment.load(data_dir / "deployment.json")
    admin = ChainClient.connect(net.chain.rpc_url, deployment=dep, account=dev_admin())
    was_running = hall_pid(d) is not None
    if was_running:
        typer.echo(f"stopping hall {n} ...")
        stop_hall(d)
    old, new = rotate_hall_key(d, admin)
    typer.echo(f"hall {hall['hall_id']}: key {old.address} retired, {new.address} registered")
    hall["account"] = new.address
    net._save()
    if was_running:
        proc = start_hall(d, port=int(hall["port"]), rpc_url=net.chain.rpc_url, env=net.node_env)
        health = wait_healthy(hall["url"], timeout=60, proc=proc)
        typer.echo(f"hall {n} running again at {hall['url']} as {health['account']}")


HallDirOpt = Annotated[Path, typer.Option("--hall-dir", help="The hall's directory (keystore.json, store/).")]
StoreDirOpt = Annotated[
    Path | None, typer.Option("--store-dir", help="The node's CASELEDGER_DATA_DIR if not the hall dir.")
]


@hall_app.command("init")
def init(hall_dir: HallDirOpt, store_dir: StoreDirOpt = None) -> None:
    """Create a new hall's empty store, once (a missing store later is damage, never re-created)."""
    path = (store_dir or hall_dir) / "store"
    Store.init(path).close()
    typer.echo(f"initialised an empty store at {path}; start the node now")


@hall_app.command("recover")
def recover(hall_dir: HallDirOpt, store_dir: StoreDirOpt = None) -> None:
    """After the node refused a store that lost writes: re-fetch what it lost from the peer halls.

    Marks the store like a restored one: at the next start the node raises its serial counters past every
    serial it opened on chain, re-scans the chain from the store's last known block and pulls this hall's
    own records back from the other halls of each case, verifying each against the chain."""
    data = store_dir or hall_dir
    if node_running(hall_dir, data / "store"):
        fail(f"the hall node of {hall_dir} is running; stop it first", 2)
    with Store(data / "store") as store:
        mark = mark_for_recovery(store, data, reason="caseledger hall recover")
    typer.echo(
        f"the store of {hall_dir} will re-fetch from the peer halls everything after block {mark['cursor']}; "
        "start the node and watch /health until transfers are done"
    )


KekFileOpt = Annotated[
    Path | None, typer.Option("--kek-file", help="The node's CASELEDGER_KEK_FILE (default <hall dir>/kek.json).")
]
DataKeysOpt = Annotated[
    Path | None,
    typer.Option("--data-keys", help="The node's CASELEDGER_DATA_KEYS_DIR (default datakeys/ beside the KEK file)."),
]


def _offline_store(hall_dir: Path, store_dir: Path | None) -> Store:
    data = store_dir or hall_dir
    if node_running(hall_dir, data / "store"):
        fail(f"the hall node of {hall_dir} is running; stop it first", 2)
    store = Store(data / "store")
    store.suite = suite_named(str(store.marker().get("suite", "intl")))
    return store


@hall_app.command("rotate-kek")
def rotate_kek(
    hall_dir: HallDirOpt,
    store_dir: StoreDirOpt = None,
    kek_file: KekFileOpt = None,
    data_keys: DataKeysOpt = None,
    url: Annotated[str | None, typer.Option("--url", help="The running node (default from hall.json).")] = None,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to watch the re-wrap (0: do not wait).")] = 300.0,
) -> None:
    """A new key-encryption key; every data key and TOTP secret re-wrapped under it.

    With the node running this goes through it (``POST /admin/kek/rotate`` with the node's admin token): the
    node keeps serving while it re-wraps in the background, resumably. With the node stopped it is done here."""
    data = store_dir or hall_dir
    token_file = data / ADMIN_TOKEN_FILE
    if node_running(hall_dir, data / "store") and token_file.is_file():
        if url is None:
            try:
                desc = json.loads((hall_dir / "hall.json").read_text())
            except (OSError, ValueError):
                fail(f"{hall_dir / 'hall.json'} is missing or unreadable; give the node's address with --url", 2)
                return
            url = f"http://127.0.0.1:{desc['port']}" if desc.get("port") else str(desc["endpoint"])
        headers = {ADMIN_TOKEN_HEADER: token_file.read_text().strip()}
        try:
            r = httpx.post(url.rstrip("/") + "/admin/kek/rotate", headers=headers, timeout=60)
            if r.status_code != 200:
                fail(f"the node at {url} refused the rotation ({r.status_code}): {r.text[:300]}")
            st = r.json()
            typer.echo(f"key-encryption key {st['current_kid']} is current ({st['cipher']}); re-wrapping in the node")
            deadline = time.monotonic() + wait
            while st["pending"] > 0 and time.monotonic() < deadline:
                time.sleep(1.0)
                st = httpx.get(url.rstrip("/") + "/admin/kek", headers=headers, timeout=30).json()
        except httpx.HTTPError as exc:
            fail(f"the hall node at {url} is not reachable ({exc.__class__.__name__}); is it running?")
            return
        left = "done" if st["pending"] == 0 else f"{st['pending']} data keys still to re-wrap (the node goes on)"
        typer.echo(f"re-wrap: {left}; {st['rewrapped_total']} re-wrapped; the file holds keys {', '.join(st['kids'])}")
        return
    kek_path = kek_file or hall_dir / KEK_FILE
    with _offline_store(hall_dir, store_dir) as store:
        hall_id = int(store.marker().get("hall_id") or 0)
        keys = open_hall_keys(
            store,
            kek_file=kek_path,
            keys_dir=data_keys or kek_path.parent / DATA_KEYS_DIR,
            hall_id=hall_id,
            suite=store.suite,
        )
        try:
            accounts = AccountBook(store, hall_id=hall_id, kek=keys.kek)
            kid, n = rotate_offline(keys.data_keys, accounts, cipher=cipher_of_suite(store.suite.name))
        finally:
            keys.close()
    typer.echo(f"key-encryption key {kid} is current; {n} data keys and secrets re-wrapped (node stopped)")


@hall_app.command("accept-lost-keys")
def accept_lost_keys(
    hall_dir: HallDirOpt,
    store_dir: StoreDirOpt = None,
    kek_file: KekFileOpt = None,
    data_keys: DataKeysOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """The data-key store is lost for good: record its keys as lost so the node starts again.

    The personal fields and files of the cases concerned read as erased at this hall from then on (their
    commitments still verify); the other hall holding each case still has its own copy."""
    kek_path = kek_file or hall_dir / KEK_FILE
    keys_dir = data_keys or kek_path.parent / DATA_KEYS_DIR
    with _offline_store(hall_dir, store_dir) as store:
        hall_id = int(store.marker().get("hall_id") or 0)
        kek = open_kek(kek_path, store, cipher=cipher_of_suite(store.suite.name))
        dk = DataKeys.open(
            keys_dir, kek, hall_id=hall_id, cipher=cipher_of_suite(store.suite.name), create=True, suite=store.suite
        )
        try:
            codec = AtRest(store, dk, hall_id=hall_id, suite=store.suite, personal_fields=())
            missing = codec.missing_keys()
            if not missing:
                typer.echo(f"every case key of {hall_dir} is in {keys_dir}: nothing to do")
                return
            cases = sorted(set(missing.values()))
            if not yes:
                typer.confirm(
                    f"record {len(missing)} data keys of {len(cases)} cases (first: {cases[0]}) as lost? Their "
                    "personal data and files at this hall are gone for good",
                    abort=True,
                )
            dk.record_lost(sorted(missing))
        finally:
            dk.close()
    typer.echo(f"{len(missing)} data keys recorded as lost ({len(cases)} cases); start the node")
