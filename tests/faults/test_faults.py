"""Faults on a running consortium (issue 13), each a regression test of what broke in the outside trial.

Every test ends in :func:`settle`: every acknowledged intake at both halls, anchored exactly once,
verified; the counts per fault are printed at the end of the run.

Each test runs in both anchoring modes (the module's ``net`` per mode) except the missing CURRENT file
(``EVENT_MODE_ONLY``): its subject is the store's start-up check, which refuses before the node reads anything
of its anchoring mode, and it anchors nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ledger.cli import _register, app
from ledger.dev.demo import DemoError, HallClient, wait_for
from ledger.dev.devchain import DevChain
from ledger.dev.localnet import LocalNet, hall_pid, node_running, start_hall, stop_hall, wait_healthy
from tests.faults.conftest import EVENT_MODE_ONLY, FaultCount, anchored_count, chain, client, intake_form, settle

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def _cli(*args: str) -> str:
    _register()
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return str(r.output)


def _restart(net: LocalNet, n: int, *, expect_ok: bool = True) -> subprocess.Popen[bytes]:
    h = net.halls[n - 1]
    proc = start_hall(Path(h["dir"]), port=h["port"], rpc_url=net.chain.rpc_url, env=net.node_env)
    if expect_ok:
        wait_healthy(h["url"], timeout=60, proc=proc)
    return proc


def _post_intake(net: LocalNet, name: str, key: str | None = None) -> httpx.Response:
    a = client(net, 1)
    data, files = intake_form(net, name)
    headers = {"Idempotency-Key": key} if key else {}
    return a.http.post("/cases", data=data, files=files, headers=headers)


def _gone(d: Path) -> None:
    """Wait until the hall node killed on ``d`` has exited and let go of its store (not a fixed sleep: a loaded
    machine may take longer to end it)."""
    wait_for("the killed hall node to let go of its store", lambda: not node_running(d), 30, interval=0.05)


def _complete_at(hall: HallClient, serial: str) -> bool:
    v = hall.case(serial)
    return v is not None and sum(e["anchor"]["state"] == "anchored" for e in v["timeline"]) == 2


def _serial_check_done(net: LocalNet) -> bool:
    try:
        return bool((client(net, 1).health().get("serial_check") or {}).get("done"))
    except httpx.TransportError:
        return False


def _refused_start(net: LocalNet, n: int) -> str:
    """Start hall n, expect it to refuse (exit 2); its one sentence from node.log."""
    d = Path(net.halls[n - 1]["dir"])
    log = d / "node.log"
    before = log.stat().st_size if log.exists() else 0
    proc = _restart(net, n, expect_ok=False)
    try:
        code = proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"hall {n} started instead of refusing its store:\n{log.read_text()[-3000:]}") from None
    assert code == 2
    text = log.read_bytes()[before:].decode()
    line = next(ln for ln in text.splitlines() if ln.startswith("caseledger node:"))
    assert "Traceback" not in text
    return line


def test_restore_with_traffic_after_the_backup_never_reuses_a_serial(net: LocalNet, tmp_path: Path) -> None:
    """Issue 13 items 1 and 2: the restored accepting hall handed out …-00002 again (its INTAKE refused, its
    MATERIALS appended to another applicant's case) and never got its own records back."""
    count = FaultCount("restore (traffic after backup)")
    a = client(net, 1)
    d = Path(net.halls[0]["dir"])
    acked: dict[str, str] = {}
    data, files = intake_form(net, "甲一")
    acked[a.intake(data, files)["serial"]] = "甲一"
    _cli("backup", "--hall-dir", str(d), "--out", str(tmp_path / "a.tgz"))
    for name in ("乙二", "丙三"):
        data, files = intake_form(net, name)
        acked[a.intake(data, files)["serial"]] = name
    wait_for("the intakes after the backup anchored", lambda: set(anchored_count(net, acked).values()) == {2}, 60)
    b = client(net, 2)  # the home hall holds them verified (the scenario), before hall 1 is restored
    wait_for("the home hall to hold them", lambda: all(_complete_at(b, s) for s in acked), 90)
    stop_hall(d)
    _cli("restore", "--hall-dir", str(d), "--from", str(tmp_path / "a.tgz"), "--force")
    _restart(net, 1)
    # intake waits for the serial check (503 with the staff sentence), then takes a fresh serial
    deadline = time.monotonic() + 60
    while True:
        r = _post_intake(net, "丁四")
        if r.status_code != 503:
            break
        err = r.json()["error"]
        assert err["code"] == "serial_check", err
        # Merkle mode: while the hall's own batches anchored after the backup are fetched back, it says so
        said = {"本厅正在与链上记录核对办件编号，请稍候"}
        if net.anchor_mode == "merkle":
            said.add("本厅恢复备份后，正在与链上记录核对办件编号，并从其他大厅取回本厅已上链的批次，请稍候")
        assert err["message_zh"].rstrip("。") in said, err
        count.refused_while_faulty += 1
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert r.status_code == 201, r.text
    fresh = r.json()["serial"]
    assert fresh not in acked, f"serial {fresh} handed out again after the restore"
    acked[fresh] = "丁四"
    settle(net, count, acked)  # the records written after the backup came back from the home hall
    h = client(net, 1).health()
    assert h["held_cases"] == 0 and not any(p["code"] == "case_held" for p in h["problems"])


def test_kill9_under_load_with_retries_loses_and_doubles_nothing(net: LocalNet) -> None:
    """Issue 13 item 6: cases stored although the client saw "server disconnected"; a retry made a second."""
    count = FaultCount("kill -9 under load (retrying clients)")
    d = Path(net.halls[0]["dir"])
    acked: dict[str, str] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def clerk(k: int) -> None:
        for i in range(12):
            if stop.is_set():
                return
            name, key = f"负载{k}-{i}", uuid.uuid4().hex
            for _attempt in range(60):  # the same key until an answer comes back
                try:
                    r = _post_intake(net, name, key)
                except (httpx.HTTPError, Exception):
                    time.sleep(0.5)
                    continue
                if r.status_code == 201:
                    with lock:
                        acked[r.json()["serial"]] = name
                    break
                time.sleep(0.5)

    threads = [threading.Thread(target=clerk, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    wait_for("some intakes", lambda: len(acked) >= 6, 60)
    os.kill(int((d / "node.pid").read_text()), signal.SIGKILL)
    _gone(d)
    _restart(net, 1)
    for t in threads:
        t.join(timeout=120)
    stop.set()
    settle(net, count, acked)


def test_truncated_log_is_refused_and_recovered_from_the_peers(net: LocalNet) -> None:
    """Issue 13 item 3: with its write-ahead log cut in half the node started "ok" and acknowledged cases were gone."""
    count = FaultCount("truncated write-ahead log")
    d = Path(net.halls[0]["dir"])
    stop_hall(d)
    _restart(net, 1)  # a fresh log: it holds only what comes next
    sizes = {p: p.stat().st_size for p in (d / "store").glob("*.log")}
    a = client(net, 1)
    acked: dict[str, str] = {}
    for i in range(8):
        data, files = intake_form(net, f"截断{i}")
        acked[a.intake(data, files)["serial"]] = f"截断{i}"
    # the log the eight acknowledged intakes went to, and where they start and end in it
    log, intakes_end = max(
        ((p, p.stat().st_size) for p in (d / "store").glob("*.log")), key=lambda x: x[1] - sizes.get(x[0], 0)
    )
    start_size = sizes.get(log, 0)
    wait_for("anchored", lambda: set(anchored_count(net, acked).values()) == {2}, 60)
    b = client(net, 2)
    wait_for("the home hall to hold them", lambda: all(_complete_at(b, s) for s in acked), 90)
    os.kill(int((d / "node.pid").read_text()), signal.SIGKILL)
    _gone(d)  # nothing writes to the log any more
    os.truncate(log, start_size + (intakes_end - start_size) // 2)  # the later acknowledged intakes are gone
    line = _refused_start(net, 1)
    assert "caseledger hall recover" in line and "caseledger restore" in line, line
    _cli("hall", "recover", "--hall-dir", str(d))
    _restart(net, 1)
    r = _post_intake(net, "截断后")
    for _ in range(100):
        if r.status_code != 503:
            break
        time.sleep(0.3)
        r = _post_intake(net, "截断后")
    assert r.status_code == 201 and r.json()["serial"] not in acked, r.text
    acked[r.json()["serial"]] = "截断后"
    settle(net, count, acked)


@EVENT_MODE_ONLY
def test_missing_current_is_damage_not_a_new_store(net: LocalNet) -> None:
    """Issue 13 item 3: with CURRENT removed a fresh empty store was created and new demo accounts written."""
    d = Path(net.halls[0]["dir"])
    accounts = (d / "demo-accounts.json").read_text()
    stop_hall(d)
    current = (d / "store" / "CURRENT").read_bytes()
    (d / "store" / "CURRENT").unlink()
    line = _refused_start(net, 1)
    assert "CURRENT file is missing" in line and "caseledger restore" in line, line
    assert (d / "demo-accounts.json").read_text() == accounts, "demo accounts were written over"
    (d / "store" / "CURRENT").write_bytes(current)
    _restart(net, 1)


def test_disk_full_answers_503_keeps_reads_and_recovers_by_itself(net: LocalNet, tmp_path: Path) -> None:
    """Issue 13 item 5: intake answered a plain-text 500 and the node stayed broken after space was freed.

    The hall's store lives on a 12 MiB tmpfs (mounting needs root, which make test has here)."""
    count = FaultCount("disk full")
    d = Path(net.halls[0]["dir"])
    acked: dict[str, str] = {}
    stop_hall(d)
    store = d / "store"
    saved = tmp_path / "store"
    shutil.copytree(store, saved)
    shutil.rmtree(store)
    store.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(store)], check=True)
    try:
        for p in saved.iterdir():
            shutil.copy2(p, store / p.name)
        _restart(net, 1)
        a = client(net, 1)
        data, files = intake_form(net, "满前")
        acked[a.intake(data, files)["serial"]] = "满前"
        ballast = store / "ballast"
        subprocess.run(["dd", "if=/dev/zero", f"of={ballast}", "bs=64k"], stderr=subprocess.DEVNULL, check=False)
        for i in range(3):
            r = _post_intake(net, f"满{i}")
            assert r.status_code == 503 and r.headers["content-type"].startswith("application/json"), r.text
            err = r.json()["error"]
            assert err["code"] == "storage_full" and err["message_zh"].startswith("本厅存储空间已满")
            count.refused_while_faulty += 1
        assert a.http.get("/cases").status_code == 200  # reads keep working
        serial = next(iter(acked))
        assert a.http.get(f"/cases/{serial}").status_code == 200
        h = a.health()
        assert h["status"] == "degraded" and any(p["code"] == "storage_full" for p in h["problems"])
        ballast.unlink()
        wait_for("/health to clear", lambda: not any(p["code"] == "storage_full" for p in a.health()["problems"]), 30)
        data, files = intake_form(net, "满后")
        acked[a.intake(data, files)["serial"]] = "满后"
        settle(net, count, acked)
    finally:
        stop_hall(d)
        subprocess.run(["umount", "-l", str(store)], check=False)
        shutil.rmtree(store, ignore_errors=True)
        shutil.copytree(saved, store)  # an older copy: the next test's start sees a rolled-back store
        if hall_pid(d) is None:
            _cli("hall", "recover", "--hall-dir", str(d))
            _restart(net, 1)
            # the next test takes intakes at once: the serial check (Merkle mode: reading back the hall's batches
            # anchored after the copy, from hall 2's manifests) is done first
            wait_for("the serial check after the recovery", lambda: _serial_check_done(net), 60)


def test_a_retry_with_the_same_key_gets_the_first_answer_across_a_restart(net: LocalNet) -> None:
    """Issue 13 item 6: a clerk who retried after "server disconnected" created a second case."""
    key = uuid.uuid4().hex
    first = _post_intake(net, "重试者", key)
    assert first.status_code == 201, first.text
    serial = first.json()["serial"]
    stop_hall(Path(net.halls[0]["dir"]))
    _restart(net, 1)
    again = _post_intake(net, "重试者", key)
    assert again.status_code == 201 and again.headers.get("idempotent-replayed") == "true", again.text
    assert again.json()["serial"] == serial
    names = [c["serial"] for c in client(net, 1).http.get("/cases").json()["data"]]
    assert names.count(serial) == 1
    other = client(net, 1).http.post(
        f"/cases/{serial}/delivery", json={"method": "counter"}, headers={"Idempotency-Key": key}
    )
    assert other.status_code == 422 and "another request" in other.json()["error"]["message"]
    count = FaultCount("restart between a request and its retry")
    settle(net, count, {serial: "重试者"})


def _faketime_env(offset: str) -> dict[str, str]:
    """Environment that runs a process with its wall clock moved by ``offset`` (libfaketime, LD_PRELOAD)."""
    import libfaketime

    lib = Path(libfaketime.__file__).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"
    assert lib.is_file(), f"libfaketime is not installed at {lib} (make setup installs it)"
    return {"LD_PRELOAD": str(lib), "FAKETIME": offset, "DONT_FAKE_MONOTONIC": "1"}


def test_a_clock_a_day_ahead_is_shown_and_holds_writes_and_anchoring(net: LocalNet) -> None:
    """Issue 13 item 7: a hall whose clock was off by a day failed in every way and nothing told the operator."""
    count = FaultCount("hall clock one day ahead")
    d = Path(net.halls[0]["dir"])
    h1 = net.halls[0]
    acked: dict[str, str] = {}
    net.chain.down()  # events taken in now wait in the outbox when the clock goes wrong
    a = client(net, 1)
    for i in range(2):
        data, files = intake_form(net, f"时钟{i}")
        acked[a.intake(data, files)["serial"]] = f"时钟{i}"
    stop_hall(d)
    net.chain.up()
    proc = start_hall(d, port=h1["port"], rpc_url=net.chain.rpc_url, env={**net.node_env, **_faketime_env("+1d")})
    wait_healthy(h1["url"], timeout=60, proc=proc)
    clerk = client(net, 1, "clerk")  # a password-only account: TOTP codes fail at a hall a day ahead

    def skew_shown() -> bool:
        return any(p["code"] == "clock_skew" for p in clerk.health()["problems"])

    wait_for("the skew in /health", skew_shown, 30)
    skew = clerk.health()["clock"]["skew_seconds"]
    assert 86_000 < skew < 86_800, skew
    data, files = intake_form(net, "时钟中")
    r = clerk.http.post("/cases", data=data, files=files)
    assert r.status_code == 503 and r.json()["error"]["code"] == "clock_skew", r.text
    assert r.json()["error"]["message_zh"].startswith("本厅服务器时钟与链上时间相差约")
    count.refused_while_faulty += 1
    time.sleep(3)  # the outbox had these events pending all along: none was anchored with the wrong clock
    assert set(anchored_count(net, acked).values()) == {0}
    stop_hall(d)
    _restart(net, 1)  # the clock is right again
    settle(net, count, acked)


def test_kill9_of_the_chain_node_brings_back_every_vanished_anchor_once(net: LocalNet) -> None:
    """Issue 15 item 3: anvil killed with kill -9 came back from its last periodic dump, blocks behind; events
    vanished from the chain while the halls still showed them "已上链" and never re-anchored them."""
    count = FaultCount("kill -9 of the chain node")
    state = net.chain.dir / "state.json"
    c = chain(net)
    acked: dict[str, str] = {}
    for attempt in range(3):  # bounded: a dump between the intakes and the kill would keep them; then again
        before = state.stat().st_mtime if state.exists() else 0.0
        wait_for("anvil's periodic state dump", lambda b=before: state.exists() and state.stat().st_mtime != b, 90)  # type: ignore[misc]
        dumped, dumped_at = state.stat().st_mtime, time.monotonic()
        a = client(net, 1)
        batch: dict[str, str] = {}
        for i in range(3):
            data, files = intake_form(net, f"链崩{attempt}-{i}")
            batch[a.intake(data, files)["serial"]] = f"链崩{attempt}-{i}"
        acked.update(batch)
        wait_for(
            "the batch anchored after the dump",
            lambda b=batch: set(anchored_count(net, b).values()) == {2},  # type: ignore[misc]
            60,
        )
        head = c.block_number()
        if state.stat().st_mtime == dumped and time.monotonic() - dumped_at < 50:
            break
    else:
        raise AssertionError("anvil dumped its state between the intakes and the kill three times")
    assert isinstance(net.chain, DevChain)
    pid = net.chain.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)  # our child: reap it, so the pid file no longer names a live process
    net.chain.up()
    restarted = time.monotonic()
    back = c.block_number()
    assert back < head, f"the chain came back at block {back}, not behind {head}: nothing was lost"
    vanished = [s for s, n in anchored_count(net, batch).items() if n < 2]
    assert vanished, "the kill lost no anchor of the batch: the test proved nothing"
    count.notes.append(f"head {head} → {back} after the kill; {len(vanished)} case(s) lost anchors")
    a = client(net, 1)

    def rollback_shown() -> bool:
        return any(p["code"] in ("chain_reanchoring", "chain_fork_seen") for p in a.health()["problems"])

    wait_for("the rollback in /health", rollback_shown, 60)
    try:
        wait_for("every vanished anchor back on chain", lambda: set(anchored_count(net, vanished).values()) == {2}, 120)
    except DemoError as exc:  # say what each hall's outbox was doing: the chain alone does not tell
        seen = anchored_count(net, vanished)
        outboxes = [client(net, n).health().get("outbox") for n in (1, 2)]
        raise AssertionError(f"{exc}: on chain {seen}; outboxes {outboxes}; head {chain(net).block_number()}") from exc
    count.notes.append(f"all anchored again {time.monotonic() - restarted:.1f} s after the chain's restart")
    settle(net, count, acked)  # each anchored again exactly once, at both halls, verified
