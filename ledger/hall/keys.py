"""Every key of a hall's LevelDB store, spelled once: the modules read and write through these.

::

    case/<serial>                   case header (JSON)                       cases, indexer, transfer, retention, audit
    rec/<serial>/<seq:06d>          one stage record with its salts          cases, transfer, retention, outbox
    blob/<serial>/<mac hex>         a file of a case, sealed (its chunk manifest, or the whole file in stores
                                    written before chunking); addressed by a keyed MAC of its digest   atrest
    blob/<serial>/<fid>/<i:06d>     chunk i of a chunked file (fid: 32 hex, random), sealed   store, atrest
    bstage/<serial>/<fid>           a file being written in chunks, not yet referenced (swept at start)  store
    ck/<serial>                     the id of the case's data key (the key itself is in the data-key store)  atrest
    caseid/<0x case id>             serial, district and hall of a case      indexer
    chainev/<serial>/<index:06d>    an on-chain event of a case              indexer, transfer
    xfer/<serial>                   a pull from a peer hall still to do      indexer, transfer
    nonce/<address>/<nonce>         peer request nonces seen (replay guard)  transfer
    outbox/<seq:012d>               pending chain writes                     outbox
    outbox-refused/<seq:012d>       chain writes the contract refused        outbox
    outbox-done/<block:012d>/<seq:012d>  entries anchored recently, by block  anchorwatch
    outbox-block/<block:012d>       hash of a block holding a recent anchor  anchorwatch
    idxblk/<block:012d>             hash of a block the indexer read up to   indexer
    acct/<username>                 staff accounts                           accounts
    sess/<sha256 hex of the token>  staff sessions                           accounts
    authfail/<sha256 hex>           failed sign-ins per (user, client)       accounts
    atrail/<seq:012d>               access-trail entries                     access
    atrail-anchor/<size:012d>       anchors of the access trail's root       access
    dcheck/<serial>/<sha256 hex>    stored dispute checks                    disputes
    notice/<serial>                 a pre-acceptance supplement request      cases, handover
    handover/<serial>               a case the home hall has not confirmed   cases, handover
    audit/last_scan                 the last anomaly scan                    audit
    audit/state                     what the incremental scan's verdicts hold (thresholds, calendar, cases)  audit
    audit/case/<serial>             a case's last verdict (its anomaly count)                         audit
    audit/anom/<serial>             a case's anomalies at its last verdict (only cases with some)     audit
    audit/watch/<serial>            when a case's verdict changes with time alone (pending, grace)    audit
    chg/<seq:016d>                  the change journal: a case touched by a write (or * for all)      changes, audit
    meta/indexer_cursor             last block the indexer has read          indexer, backup
    meta/restored                   written by a restore from backup         backup, indexer, transfer
    meta/store_init                 the store marker written once by Store.init (hall, layout, format, suite, id)  store
    meta/generation                 counts the node's starts (also in <data dir>/store.generation)    integrity
    meta/serial_check               the serial check against the chain after a restore               integrity
    idem/<user>/<sha256 of key>     first answers of Idempotency-Key requests                        idempotency
    held/<serial>                   a case whose INTAKE the chain refused: later events held          outbox
    calendar/<year>/<version:04d>   official holiday arrangements loaded by an administrator         holidays
    mbox/<seq:012d>                 pending writes of Merkle-mode cases (the outbox's counter)      outbox, merkle
    mbatch/<seq:012d>               this hall's Merkle batch: built (durable before sending), anchored merkle
                                    (or read back from the chain after a restore: recovered)
    manifest/<hall:010d>/<seq:012d> a batch's manifest (own or mirrored), checked against its root    merkle, indexer
    mbatchlog/<hall:010d>/<seq:012d>  a BatchAnchored log the indexer read                          indexer
    mwant/<hall:010d>/<seq:012d>    a batch whose manifest is still to be fetched                    indexer
    mhead/<serial>                  a Merkle-mode case's latest event here (index, head, batch)      merkle, indexer
    mcase/<case id hex>             every case's Merkle-mode events as checked (all halls' cases)    indexer
    mdefer/<case id>/<index>/...    a leaf waiting for its case's previous event                     indexer
    mfind/<hall>/<seq>/<leaf:06d>   a rule a batch breaks, with the leaf and its proof               indexer, audit
    mblock/<block:012d>             hash of a block holding one of this hall's Merkle batches        merkle
    meta/mbatch_scan_from           this hall's unrecorded Merkle batches were sent at or after it   merkle
    meta/outbox_seq, meta/outbox_scan_from, meta/serial/<yyyymmdd>, meta/hall, meta/sync

Keys are bytes; JSON values go through :meth:`ledger.hall.store.Store.put_json`.
"""

from __future__ import annotations

__all__ = [
    "ACCOUNT_PREFIX",
    "MBATCH_LOG_PREFIX",
    "MBATCH_PREFIX",
    "MBUILT_PREFIX",
    "MBATCH_SCAN_FROM_KEY",
    "MBLOCK_PREFIX",
    "MBOX_PREFIX",
    "MFIND_PREFIX",
    "MHEAD_PREFIX",
    "MCASE_PREFIX",
    "MANIFEST_PREFIX",
    "MWANT_PREFIX",
    "manifest_key",
    "mbatch_key",
    "mbuilt_key",
    "mbatch_log_key",
    "mbox_key",
    "mfind_key",
    "mhead_key",
    "mcase_key",
    "mwant_key",
    "AUTHFAIL_PREFIX",
    "BLOB_PREFIX",
    "STAGE_PREFIX",
    "CASE_DATA_KEY_PREFIX",
    "CALENDAR_PREFIX",
    "CASE_ID_PREFIX",
    "CASE_PREFIX",
    "CHAIN_EVENT_PREFIX",
    "CHANGE_PREFIX",
    "AUDIT_ANOMALY_PREFIX",
    "AUDIT_CASE_PREFIX",
    "AUDIT_STATE_KEY",
    "AUDIT_WATCH_PREFIX",
    "CHECK_PREFIX",
    "GENERATION_KEY",
    "HANDOVER_PREFIX",
    "NOTICE_PREFIX",
    "HALL_KEY",
    "HELD_PREFIX",
    "IDEM_PREFIX",
    "INDEXER_CURSOR_KEY",
    "LAST_SCAN_KEY",
    "NONCE_PREFIX",
    "INDEXER_BLOCKS_PREFIX",
    "OUTBOX_BLOCKS_PREFIX",
    "OUTBOX_DONE_PREFIX",
    "OUTBOX_PREFIX",
    "OUTBOX_REFUSED_PREFIX",
    "OUTBOX_SCAN_FROM_KEY",
    "OUTBOX_SEQ_KEY",
    "RECORD_PREFIX",
    "RESTORED_KEY",
    "SERIAL_CHECK_KEY",
    "SERIAL_PREFIX",
    "SESSION_PREFIX",
    "STORE_INIT_KEY",
    "SYNC_KEY",
    "TRAIL_ANCHOR_PREFIX",
    "TRAIL_PREFIX",
    "XFER_PREFIX",
    "account_key",
    "authfail_key",
    "blob_key",
    "case_blob_key",
    "case_blob_prefix",
    "chunk_key",
    "chunk_prefix",
    "stage_key",
    "case_data_key",
    "calendar_key",
    "case_id_key",
    "case_key",
    "chain_event_key",
    "chain_event_prefix",
    "check_key",
    "check_prefix",
    "held_key",
    "idem_key",
    "handover_key",
    "notice_key",
    "nonce_key",
    "outbox_done_key",
    "outbox_key",
    "outbox_refused_key",
    "record_key",
    "record_prefix",
    "serial_counter_key",
    "session_key",
    "trail_anchor_key",
    "trail_key",
    "xfer_key",
]

CASE_PREFIX = b"case/"
RECORD_PREFIX = b"rec/"
BLOB_PREFIX = b"blob/"
STAGE_PREFIX = b"bstage/"
CASE_DATA_KEY_PREFIX = b"ck/"
CASE_ID_PREFIX = b"caseid/"
CHAIN_EVENT_PREFIX = b"chainev/"
XFER_PREFIX = b"xfer/"
NONCE_PREFIX = b"nonce/"
OUTBOX_PREFIX = b"outbox/"
OUTBOX_REFUSED_PREFIX = b"outbox-refused/"
OUTBOX_DONE_PREFIX = b"outbox-done/"
OUTBOX_BLOCKS_PREFIX = b"outbox-block/"
INDEXER_BLOCKS_PREFIX = b"idxblk/"
ACCOUNT_PREFIX = b"acct/"
SESSION_PREFIX = b"sess/"
AUTHFAIL_PREFIX = b"authfail/"
TRAIL_PREFIX = b"atrail/"
TRAIL_ANCHOR_PREFIX = b"atrail-anchor/"
CHECK_PREFIX = b"dcheck/"
NOTICE_PREFIX = b"notice/"
HANDOVER_PREFIX = b"handover/"

LAST_SCAN_KEY = b"audit/last_scan"
AUDIT_STATE_KEY = b"audit/state"
AUDIT_CASE_PREFIX = b"audit/case/"
AUDIT_ANOMALY_PREFIX = b"audit/anom/"
AUDIT_WATCH_PREFIX = b"audit/watch/"
CHANGE_PREFIX = b"chg/"
INDEXER_CURSOR_KEY = b"meta/indexer_cursor"
# Written into a restored store: the indexer checks this hall's own events after ``cursor`` for
# records the store lacks, so they are pulled back from the peer halls.
RESTORED_KEY = b"meta/restored"
OUTBOX_SEQ_KEY = b"meta/outbox_seq"
# Every transaction this hall sent that is not yet recorded was mined at or after this block.
OUTBOX_SCAN_FROM_KEY = b"meta/outbox_scan_from"
HALL_KEY = b"meta/hall"
SYNC_KEY = b"meta/sync"
STORE_INIT_KEY = b"meta/store_init"
GENERATION_KEY = b"meta/generation"
SERIAL_CHECK_KEY = b"meta/serial_check"
SERIAL_PREFIX = b"meta/serial/"
IDEM_PREFIX = b"idem/"
HELD_PREFIX = b"held/"
CALENDAR_PREFIX = b"calendar/"
MBOX_PREFIX = b"mbox/"
MBATCH_PREFIX = b"mbatch/"
MBUILT_PREFIX = b"mbuilt/"  # the built batches not anchored yet: seq -> event count (no batch decoded to count)
MANIFEST_PREFIX = b"manifest/"
MBATCH_LOG_PREFIX = b"mbatchlog/"
MWANT_PREFIX = b"mwant/"
MHEAD_PREFIX = b"mhead/"
MCASE_PREFIX = b"mcase/"  # the indexer's checked state of every case of every hall, by case id
MFIND_PREFIX = b"mfind/"
MBLOCK_PREFIX = b"mblock/"
MBATCH_SCAN_FROM_KEY = b"meta/mbatch_scan_from"


def mbuilt_key(seq: int) -> bytes:
    return MBUILT_PREFIX + f"{seq:012d}".encode()


def mbox_key(seq: int) -> bytes:
    return MBOX_PREFIX + f"{seq:012d}".encode()


def mbatch_key(seq: int) -> bytes:
    return MBATCH_PREFIX + f"{seq:012d}".encode()


def manifest_key(hall: int, seq: int) -> bytes:
    return MANIFEST_PREFIX + f"{hall:010d}/{seq:012d}".encode()


def mbatch_log_key(hall: int, seq: int) -> bytes:
    return MBATCH_LOG_PREFIX + f"{hall:010d}/{seq:012d}".encode()


def mwant_key(hall: int, seq: int) -> bytes:
    return MWANT_PREFIX + f"{hall:010d}/{seq:012d}".encode()


def mhead_key(serial: str) -> bytes:
    return MHEAD_PREFIX + serial.encode()


def mcase_key(cid: bytes) -> bytes:
    return MCASE_PREFIX + cid.hex().encode()


def mfind_key(hall: int, seq: int, leaf: int) -> bytes:
    return MFIND_PREFIX + f"{hall:010d}/{seq:012d}/{leaf:06d}".encode()


def calendar_key(year: int, version: int) -> bytes:
    return CALENDAR_PREFIX + f"{year}/{version:04d}".encode()


def held_key(serial: str) -> bytes:
    return HELD_PREFIX + serial.encode()


def idem_key(username: str, key_hash: str) -> bytes:
    return IDEM_PREFIX + f"{username}/{key_hash}".encode()


def case_key(serial: str) -> bytes:
    return CASE_PREFIX + serial.encode()


def record_prefix(serial: str) -> bytes:
    return RECORD_PREFIX + f"{serial}/".encode()


def record_key(serial: str, seq: int) -> bytes:
    return RECORD_PREFIX + f"{serial}/{seq:06d}".encode()


def case_id_key(case_id_hex: str) -> bytes:
    return CASE_ID_PREFIX + case_id_hex.encode()


def chain_event_prefix(serial: str) -> bytes:
    return CHAIN_EVENT_PREFIX + f"{serial}/".encode()


def chain_event_key(serial: str, index: int) -> bytes:
    return CHAIN_EVENT_PREFIX + f"{serial}/{index:06d}".encode()


def blob_key(digest_hex: str) -> bytes:
    """A file under its plain digest: stores without encryption (and layout-1 stores before conversion)."""
    return BLOB_PREFIX + digest_hex.encode()


def case_blob_prefix(serial: str) -> bytes:
    return BLOB_PREFIX + f"{serial}/".encode()


def case_blob_key(serial: str, address_hex: str) -> bytes:
    return BLOB_PREFIX + f"{serial}/{address_hex}".encode()


def chunk_prefix(serial: str, fid_hex: str) -> bytes:
    """The sealed chunks of one stored file of a case (:mod:`ledger.hall.store`, chunked files)."""
    return BLOB_PREFIX + f"{serial}/{fid_hex}/".encode()


def chunk_key(serial: str, fid_hex: str, index: int) -> bytes:
    return BLOB_PREFIX + f"{serial}/{fid_hex}/{index:06d}".encode()


def stage_key(serial: str, fid_hex: str) -> bytes:
    """A file whose chunks are being written and no record references yet (deleted by the record's batch)."""
    return STAGE_PREFIX + f"{serial}/{fid_hex}".encode()


def case_data_key(serial: str) -> bytes:
    return CASE_DATA_KEY_PREFIX + serial.encode()


def xfer_key(serial: str) -> bytes:
    return XFER_PREFIX + serial.encode()


def nonce_key(address: str, nonce: str) -> bytes:
    return NONCE_PREFIX + f"{address.lower()}/{nonce}".encode()


def outbox_key(seq: int) -> bytes:
    return OUTBOX_PREFIX + f"{seq:012d}".encode()


def outbox_done_key(block: int, seq: int) -> bytes:
    return OUTBOX_DONE_PREFIX + f"{block:012d}/{seq:012d}".encode()


def outbox_refused_key(seq: int) -> bytes:
    return OUTBOX_REFUSED_PREFIX + f"{seq:012d}".encode()


def account_key(username: str) -> bytes:
    return ACCOUNT_PREFIX + username.encode()


def session_key(token_hash: str) -> bytes:
    return SESSION_PREFIX + token_hash.encode()


def authfail_key(digest_hex: str) -> bytes:
    return AUTHFAIL_PREFIX + digest_hex.encode()


def trail_key(seq: int) -> bytes:
    return TRAIL_PREFIX + f"{seq:012d}".encode()


def trail_anchor_key(size: int) -> bytes:
    return TRAIL_ANCHOR_PREFIX + f"{size:012d}".encode()


def check_prefix(serial: str) -> bytes:
    return CHECK_PREFIX + f"{serial}/".encode()


def check_key(serial: str, digest_hex: str) -> bytes:
    return CHECK_PREFIX + f"{serial}/{digest_hex}".encode()


def notice_key(serial: str) -> bytes:
    return NOTICE_PREFIX + serial.encode()


def handover_key(serial: str) -> bytes:
    return HANDOVER_PREFIX + serial.encode()


def serial_counter_key(day: str) -> bytes:
    return f"meta/serial/{day}".encode()
