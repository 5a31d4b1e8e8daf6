"""Wiring of one hall node: store, chain clients, case book, outbox sender, indexer, transfers."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain.client import ChainClient, HallInfo
from ledger.chain.deployment import Deployment
from ledger.chain.endpoints import EndpointPool, FailoverProvider
from ledger.core.aead import cipher_of_suite
from ledger.core.suites import Suite, suite_named
from ledger.errors import (
    ChainError,
    ChainUnavailableError,
    ConfigError,
    LedgerError,
    StorageFullError,
    StoreDamagedError,
)
from ledger.hall.access import AccessTrail
from ledger.hall.accounts import AccountBook, ensure_demo_accounts
from ledger.hall.atrest import open_hall_keys
from ledger.hall.backup import DATA_KEYS_DIR, KEK_FILE, BackupManifest, keystore_files, write_backup
from ledger.hall.cases import CaseBook, HallIdentity
from ledger.hall.clock import ClockWatch
from ledger.hall.handover import HandoverWatcher
from ledger.hall.health import (
    AccessTrailHealth,
    AtRestHealth,
    ChainHealth,
    DataKeyCounts,
    ForkSeen,
    HealthNumbers,
    HealthReport,
    IndexerHealth,
    LossSeen,
    ManifestUnavailable,
    MerkleHealth,
    OutboxHealth,
    SerialCheckHealth,
    StoreHealth,
    TransfersHealth,
)
from ledger.hall.holidays import install_all
from ledger.hall.idempotency import Answers
from ledger.hall.inbox import InboxIndex
from ledger.hall.indexer import Indexer
from ledger.hall.integrity import SerialCheck, bump_generation, check_against_chain
from ledger.hall.kekrotation import KekRotation
from ledger.hall.keys import CHECK_PREFIX, HALL_KEY, STORE_INIT_KEY
from ledger.hall.keystore import load_keystore, read_password
from ledger.hall.merkle_index import MerkleIndex
from ledger.hall.merkle_outbox import MerkleSender
from ledger.hall.outbox import Outbox, OutboxSender
from ledger.hall.store import Store
from ledger.hall.transfer import PeerGuard, TransferWorker
from ledger.hall.worker import BackgroundWorker
from node_api.core.config import Settings
from node_api.core.ops import problems, write_admin_token

__all__ = ["HallNode"]

TRAIL_BACKLOG_MAX = 10_000

log = logging.getLogger("caseledger.node")


def _pool(settings: Settings) -> EndpointPool:
    """The hall's chain endpoints (its district's node first), once one of them answers."""
    pool = EndpointPool(
        settings.rpc_urls,
        max_lag=settings.rpc_max_lag,
        timeout=settings.rpc_timeout,
        probe_interval=settings.rpc_probe_interval,
        return_after=settings.rpc_return_after,
    )
    deadline = time.monotonic() + settings.startup_timeout
    while True:
        pool.probe()
        if any(e.state in ("up", "lagging") for e in pool.status().endpoints):
            return pool
        if time.monotonic() > deadline:
            pool.close()
            raise ChainUnavailableError(
                f"no chain node answered at {settings.rpc_url} within {settings.startup_timeout:.0f}s"
            )
        time.sleep(0.5)


def _client(
    pool: EndpointPool, dep: Deployment, account: LocalAccount | None = None, *, max_logs_range: int = 1000
) -> ChainClient:
    return ChainClient(w3=Web3(FailoverProvider(pool)), deployment=dep, account=account, max_logs_range=max_logs_range)


def _open_store(settings: Settings, path: Path, hall_id: int, suite: Suite) -> Store:
    """The hall's store: opened (never created), or initialised when ``CASELEDGER_INIT_STORE`` says this is the
    hall's first start; a store of another hall, evidence format or hash suite is refused."""
    if settings.init_store and not path.exists():
        Store.init(path, hall_id=hall_id, suite=suite, min_free_bytes=settings.store_min_free_bytes).close()
        log.info("initialised a new store for hall %d at %s", hall_id, path)
    store = Store(path, suite=suite, min_free_bytes=settings.store_min_free_bytes)
    try:
        store.check_format()
    except ConfigError:
        store.close()
        raise
    owner = store.marker().get("hall_id")
    if owner is None:
        store.put_json(STORE_INIT_KEY, {**store.marker(), "hall_id": hall_id})
    elif int(owner) != hall_id:
        store.close()
        raise StoreDamagedError(f"the store at {path} belongs to hall {owner}, not to hall {hall_id}: wrong directory?")
    return store


def _oldest(a: float | None, b: float | None) -> float | None:
    return max((x for x in (a, b) if x is not None), default=None)


class Housekeeping(BackgroundWorker):
    """Prunes what would otherwise grow with every request: expired sessions, stale sign-in failure
    counters and peer-request nonces older than twice the signature window."""

    thread_name = "housekeeping"

    def __init__(self, node: HallNode, *, interval: float) -> None:
        super().__init__()
        self.node = node
        self.interval = interval
        self.pruned_total = 0

    def run_once(self) -> int:
        n = self.node.accounts.prune() + self.node.guard.prune() + self.node.answers.prune()
        # day keys of sessions and idempotent answers expire a day after their values (ledger.hall.datakeys)
        n += self.node.data_keys.expire_days(keep_days=1)
        self.pruned_total += n
        return n

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # a store error must not end the thread: the next round tries again
                log.exception("housekeeping failed")


class TrailAnchorer(BackgroundWorker):
    """Anchors the access trail's root every ``interval`` seconds, or at once when woken (after a backup)."""

    thread_name = "access-trail"

    def __init__(self, node: HallNode, *, interval: float) -> None:
        super().__init__()
        self.node = node
        self.interval = interval
        self.last_error: str | None = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.node.anchor_trail()
                self.last_error = None
            except LedgerError as exc:  # chain down or refused: retry at the next tick; entries stay in the store
                self.last_error = str(exc)
                log.warning("access-trail anchoring failed: %s", exc)
            except Exception as exc:  # a bug, said as one (with its traceback in the log); the loop goes on
                self.last_error = f"internal error: {exc.__class__.__name__}"
                log.exception("access-trail anchoring: unexpected error")


class HallNode:
    def __init__(self, settings: Settings) -> None:
        keystore, dep_file, data_dir = settings.require()
        self.settings = settings
        password = read_password(file=settings.password_file, env=settings.password_env)
        self.account = load_keystore(keystore, password)
        self.deployment = Deployment.load(dep_file)
        self.pool = _pool(settings)
        limit = settings.max_logs_range
        self.writer = _client(self.pool, self.deployment, self.account, max_logs_range=limit)
        self.reader = _client(self.pool, self.deployment, max_logs_range=limit)
        if not self.reader.deployment_alive():
            self.pool.close()
            raise ConfigError(
                f"the chain at {self.pool.active_url} does not hold the deployment of {dep_file} (another chain id, "
                "genesis or no contract code: its state was lost, or it is another chain), so this hall does not "
                "start; on a development machine `caseledger reset` starts over"
            )
        try:
            self.reader.check_deployment()  # format 2, the suite and registry the deployment file names
        except ConfigError:
            self.pool.close()
            raise
        info = self.reader.hall_of(self.account.address)
        if info is None:
            raise ConfigError(f"the key {self.account.address} of {keystore} is not a registered hall")
        if info.status != "active":
            raise ConfigError(f"hall {info.hall_id} ({info.name}) is {info.status} in the registry; it may not run")
        if settings.hall_id is not None and settings.hall_id != info.hall_id:
            raise ConfigError(f"this key belongs to hall {info.hall_id}, not hall {settings.hall_id}")
        self.info = info
        self.suite = suite_named(self.deployment.suite)
        self.hall = HallIdentity(
            hall_id=info.hall_id, district=info.district, account=info.account, name=info.name, suite=self.suite
        )
        self.store = _open_store(settings, data_dir / "store", info.hall_id, self.suite)
        kek_file = settings.kek_file or data_dir / KEK_FILE
        try:
            # personal data sealed at rest beneath every service (ledger.hall.atrest); a layout-1 store converted
            self.keys = open_hall_keys(
                self.store,
                kek_file=kek_file,
                keys_dir=settings.data_keys_dir or kek_file.parent / DATA_KEYS_DIR,
                hall_id=info.hall_id,
                suite=self.suite,
            )
        except BaseException:
            self.store.close()
            self.pool.close()
            raise
        if self.keys.converted:
            log.warning("sealed %d values of a store written before encryption at rest", self.keys.converted)
        # file chunks an interrupted write left behind, which no record references (ledger.hall.store)
        self.swept_chunks = self.store.sweep_chunks()
        self.kek = self.keys.kek
        self.data_keys = self.keys.data_keys
        try:
            # refuse a store that is older than itself or lacks what this hall anchored (ledger.hall.integrity)
            self.generation = bump_generation(self.store, data_dir)
            self.start_check = check_against_chain(
                self.store, self.reader, hall_id=info.hall_id, max_range=settings.max_logs_range
            )
        except BaseException:
            self.keys.close()
            self.store.close()
            self.pool.close()
            raise
        self.store.put_json(HALL_KEY, {"hall_id": info.hall_id, "district": info.district, "name": info.name})
        self.calendars = install_all(self.store)  # holiday arrangements an admin loaded (ledger.hall.holidays)
        self.outbox = Outbox(self.store)
        # after a restore: serials, and this hall's own Merkle batches anchored after the backup, read back from
        # the chain and the other halls' manifests (self.merkle_index.fetch) before intake and Merkle anchoring
        self.serial_check = SerialCheck(
            self.store,
            self.reader,
            hall_id=info.hall_id,
            max_range=settings.max_logs_range,
            fetch=lambda hall, seq: self.merkle_index.fetch(hall, seq),
            lock=self.outbox.lock,
        )
        self.answers = Answers(self.store, ttl=settings.idempotency_ttl)
        self.clock_watch = ClockWatch(
            _client(self.pool, self.deployment, max_logs_range=limit),
            hall_id=info.hall_id,
            max_skew=settings.clock_max_skew,
            interval=settings.poll_interval,
            peer_interval=settings.clock_peer_interval,
        )
        self.sender = OutboxSender(
            self.outbox,
            self.writer,
            batch_max=settings.outbox_batch_max,
            interval=settings.outbox_interval,
            reorg_check_interval=settings.reorg_check_interval,
            hold=self.clock_watch.reason,
        )
        self.merkle_sender = MerkleSender(
            self.outbox,
            self.writer,
            hall=self.hall,
            batch_max=settings.merkle_batch_max,
            max_in_flight=settings.merkle_in_flight,
            linger=settings.merkle_linger,
            interval=settings.outbox_interval,
            reorg_check_interval=settings.reorg_check_interval,
            hold=lambda: self.clock_watch.reason() or self.serial_check.anchoring_hold(),
            quiet=lambda: self.sender.needs_reconcile,  # one key: the event sender's reconcile waits for its pool
        )
        self.book = CaseBook(
            self.store,
            self.outbox,
            hall=self.hall,
            max_file_bytes=settings.max_file_bytes,
            on_write=self._wake_senders,
            receiving_districts=self.receiving_districts,
            anchor_mode=settings.anchor_mode,
        )
        self.book.intake_gates.append(self.serial_check.gate)
        self.book.write_gates.append(self.clock_watch.gate)
        self._halls: list[HallInfo] = []
        self._halls_at = 0.0
        self._halls_lock = threading.Lock()
        self.inbox = InboxIndex(self.book)
        self.handover = HandoverWatcher(self.book, self.reader, self.account, interval=max(settings.poll_interval, 0.5))
        self.transfers = TransferWorker(self.book, self.reader, self.account, interval=settings.poll_interval)
        index_client = _client(self.pool, self.deployment, max_logs_range=limit)
        self.merkle_index = MerkleIndex(self.store, index_client, self.book)
        self.indexer = Indexer(
            self.store,
            index_client,
            self.book,
            confirmations=settings.confirmations,
            interval=settings.poll_interval,
            on_transfer_needed=self.transfers.wake,
            merkle=self.merkle_index,
        )
        self.guard = PeerGuard(self.store, self.reader, hall_id=info.hall_id, window=settings.peer_window)
        self.clock = time.time
        self.trail = AccessTrail(self.store, hall_id=info.hall_id)
        self._trail_lock = threading.Lock()
        self._trail_backlog: list[tuple[str, str, str, str]] = []
        self.store.on_recovered.append(self._store_recovered)
        self.accounts = AccountBook(
            self.store,
            hall_id=info.hall_id,
            kek=self.kek,
            session_ttl=settings.session_ttl,
            max_failures=settings.login_max_failures,
            max_failures_address=settings.login_max_failures_address,
            lockout_base=settings.login_lockout_base,
            lockout=settings.login_lockout,
            on_event=lambda action, what: self.record_access("system:sign-in", action, "", what),
        )
        sealed = self.accounts.seal_plain_secrets()
        if sealed:
            log.info(
                "sealed the TOTP secrets of %d account(s) with key-encryption key %s", sealed, self.kek.current_kid
            )
        if settings.demo_accounts:
            ensure_demo_accounts(self.accounts, data_dir / "demo-accounts.json")
        self.housekeeping = Housekeeping(self, interval=settings.housekeeping_interval)
        self.trail_anchorer = TrailAnchorer(self, interval=settings.access_anchor_interval)
        self.kek_rotation = KekRotation(self.data_keys, self.accounts, cipher=cipher_of_suite(self.suite.name))
        self.admin_token: str | None = None
        self._started = False

    # ------------------------------------------------------------------ the registry, as the counter needs it
    def halls(self, *, max_age: float = 15.0) -> list[HallInfo]:
        """The registry's halls, read at most every ``max_age`` seconds; the last known list while the chain
        is unreachable (empty if it never was reachable)."""
        with self._halls_lock:
            if time.monotonic() - self._halls_at > max_age:
                try:
                    self._halls = self.reader.halls()
                    self._halls_at = time.monotonic()
                except ChainError as exc:
                    log.warning("registry not readable, using the last known halls: %s", exc)
            return list(self._halls)

    def receiving_districts(self) -> set[int] | None:
        """Districts with an active hall, which can receive a case; ``None`` when not known (chain never read)."""
        halls = self.halls()
        if not halls:
            return None
        return {h.district for h in halls if h.status == "active"}

    def hall_names(self) -> dict[int, str]:
        return {h.hall_id: h.name for h in self.halls()}

    def _wake_senders(self) -> None:
        self.sender.wake()
        self.merkle_sender.wake()

    # ------------------------------------------------------------------ access trail
    def record_access(self, actor: str, action: str, serial: str, what: str = "") -> None:
        """Log a view or export of a case's personal data (访问留痕).

        While the disk is full, entries wait in memory (at most ``TRAIL_BACKLOG_MAX``, beyond that the
        read is refused) and are written in order as soon as the store takes writes again."""
        with self._trail_lock:
            try:
                self._flush_trail_backlog()
                self.trail.record(actor=actor, action=action, serial=serial, what=what)
            except StorageFullError:
                if len(self._trail_backlog) >= TRAIL_BACKLOG_MAX:
                    raise
                self._trail_backlog.append((actor, action, serial, what))

    def _flush_trail_backlog(self) -> None:
        while self._trail_backlog:
            actor, action, serial, what = self._trail_backlog[0]
            self.trail.record(actor=actor, action=action, serial=serial, what=what)
            self._trail_backlog.pop(0)

    def _store_recovered(self) -> None:
        with self._trail_lock:
            try:
                self._flush_trail_backlog()
            except StorageFullError:
                pass

    def anchor_trail(self, *, background: bool = False) -> None:
        """Anchor the access trail's root now (or wake the background anchorer)."""
        if background:
            self.trail_anchorer.wake()
            return
        with self._trail_lock:
            self.trail.anchor(self.writer)

    def start(self) -> None:
        _, _, data_dir = self.settings.require()
        self.admin_token = write_admin_token(data_dir)
        self.pool.start()
        self.serial_check.start()
        self.clock_watch.start()
        self.sender.start()
        self.merkle_sender.start()
        self.indexer.start()
        self.transfers.start()
        self.housekeeping.start()
        self.handover.start()
        threading.Thread(target=self.inbox.warm, name="inbox-warm", daemon=True).start()
        self.kek_rotation.start()  # resumes a re-wrap a rotation left unfinished
        if self.settings.access_anchor_interval > 0:
            self.trail_anchorer.start()
        self._started = True
        log.info(
            "hall %d (%s, district %d) running as %s",
            self.hall.hall_id,
            self.hall.name,
            self.hall.district,
            self.account.address,
        )

    def stop(self) -> None:
        if self._started:
            self.trail_anchorer.stop()
            self.housekeeping.stop()
            self.handover.stop()
            self.kek_rotation.stop()
            self.transfers.stop()
            self.indexer.stop()
            self.merkle_sender.stop()
            self.sender.stop()
            self.serial_check.stop()
            self.clock_watch.stop()
        self.pool.close()
        self.store.close()
        self.keys.close()

    def health(self) -> HealthReport:
        """The health numbers plus ``status`` (``ok`` | ``degraded``) and ``problems`` said in words."""
        try:
            self.store.recover()  # after a full disk: takes writes again as soon as space is back
        except Exception as exc:  # reported below through store.damage
            log.warning("store recovery failed: %s", exc)
        h = self.health_numbers()
        return HealthReport.of(h, problems(h, self.settings))

    def verification_counts(self) -> dict[str, int]:
        """Stored dispute verifications by verdict (``match`` / ``mismatch``)."""
        out: dict[str, int] = {}
        for _, v in self.store.iter_json(CHECK_PREFIX):
            out[str(v.get("verdict"))] = out.get(str(v.get("verdict")), 0) + 1
        return out

    def backup(self, out: Path, *, by: str) -> BackupManifest:
        """Write a backup archive (consistent store snapshot, encrypted keystores, hall.json) to ``out``.

        Recorded in the access trail first (so the backup holds its own entry), anchored soon after."""
        keystore, _, _ = self.settings.require()
        self.record_access(by, "backup_store", "", "store snapshot, encrypted keystores, hall.json")
        self.anchor_trail(background=True)
        try:
            block: int | None = self.reader.block_number()
        except ChainError:  # the backup is still consistent; it just does not name a chain block
            block = None
        hall_json = self.settings.hall_dir / "hall.json" if self.settings.hall_dir else None
        m = write_backup(
            self.store,
            out,
            hall={
                "hall_id": self.hall.hall_id,
                "district": self.hall.district,
                "name": self.hall.name,
                "account": self.account.address,
            },
            keystores=keystore_files(keystore),
            hall_json=hall_json,
            chain_block=block,
        )
        log.info(
            "backup of hall %d: %d keys, indexer cursor %s, chain block %s",
            m.hall_id,
            m.keys,
            m.indexer_cursor,
            m.chain_block,
        )
        return m

    def _serial_check_health(self) -> SerialCheckHealth:
        sc = self.serial_check
        held = sc.done and sc.anchoring_hold() is not None
        return SerialCheckHealth(
            done=sc.done,
            last_error=sc.last_error,
            own_batches_on_chain=sc.own_batches_on_chain,
            own_batches_recovered=len(sc.recovered),
            waiting_for_batch=sc.waiting_for,
            anchoring_held=held,
            unindexed_batches=len(sc.unindexed) if held else 0,
        )

    def _merkle_health(self) -> MerkleHealth:
        ms = self.merkle_sender.stats()
        unavailable = self.merkle_index.unavailable()
        return MerkleHealth(
            anchor_mode=self.settings.anchor_mode,
            pending=ms.pending,
            batches_unanchored=ms.batches_unanchored,
            next_seq=ms.next_seq,
            refused=ms.refused,
            last_error=ms.last_error,
            lost_total=ms.lost_total,
            manifests_wanted=len(self.merkle_index.wanted()),
            manifests_unavailable=[
                ManifestUnavailable(hall=w["hall"], seq=w["seq"], block=w["block"]) for w in unavailable
            ],
            findings=self.merkle_index.findings_total,
        )

    def health_numbers(self) -> HealthNumbers:
        try:
            block: int | None = self.reader.block_number()
        except ChainError:  # only the chain's own failures read as "not connected"; a bug still raises
            block = None
        st = self.sender.stats()
        jobs = self.transfers.jobs()
        ep = self.pool.status()
        ix = self.indexer
        fork = ix.last_fork
        st_full = self.store.full_since
        return HealthNumbers(
            store=StoreHealth(
                full=st_full is not None,
                full_since=st_full,
                free_bytes=self.store.free_bytes(),
                min_free_bytes=self.store.min_free_bytes,
                damage=self.store.damage,
                generation=self.generation,
            ),
            serial_check=self._serial_check_health(),
            held_cases=self.outbox.held_count(),
            clock=self.clock_watch.report(),
            hall_id=self.hall.hall_id,
            name=self.hall.name,
            district=self.hall.district,
            account=self.account.address,
            chain=ChainHealth(
                connected=block is not None,
                block=block,
                rpc_url=ep.active,
                endpoints=ep,
                deployment_lost=st.deployment_lost or self.merkle_sender.deployment_lost or ix.deployment_lost,
            ),
            outbox=OutboxHealth(
                pending=st.pending + self.merkle_sender.pending_count(),
                oldest_pending_age=_oldest(st.oldest_pending_age, self.merkle_sender.oldest_age()),
                refused=st.refused,
                last_error=st.last_error,
                requeued_pending=st.requeued_pending,
                lost_total=st.lost_total,
                last_loss=None if st.last_loss is None else LossSeen.model_validate(st.last_loss),
            ),
            merkle=self._merkle_health(),
            indexer=IndexerHealth(
                cursor=ix.cursor,
                head=ix.head,
                lag=ix.lag(),
                confirmations=ix.confirmations,
                last_error=ix.last_error,
                forks=ix.forks_total,
                last_fork=None
                if fork is None
                else ForkSeen(
                    kind=fork.kind,
                    fork_block=fork.fork_block,
                    seen_head=fork.seen_head,
                    head=fork.head,
                    at=ix.last_fork_at,
                ),
            ),
            transfers=TransfersHealth(
                open=len(jobs),
                retrying=sum(1 for j in jobs if int(j.get("attempts", 0)) > 0),
                failing=sum(1 for j in jobs if int(j.get("attempts", 0)) >= self.settings.health_transfer_attempts),
                refused=sum(1 for j in jobs if j.get("refused")),
            ),
            suite=self.suite.name,
            at_rest=AtRestHealth(
                cipher=self.data_keys.cipher,
                kek_id=self.kek.current_kid,
                kek_keys=len(self.kek.kids),
                data_keys=DataKeyCounts.model_validate(self.data_keys.summary()),
                rewrap_error=self.kek_rotation.last_error,
            ),
            access_trail=AccessTrailHealth(
                size=self.trail.size(),
                anchored=(a[-1].size if (a := self.trail.anchors()) else 0),
                last_error=self.trail_anchorer.last_error,
            ),
        )
