"""Encryption at rest: the store codec that seals what is personal before it reaches LevelDB.

Installed on a hall's :class:`~ledger.hall.store.Store` (``AtRest.install(store, keys, …)``), it sits beneath
every service: they read and write plain JSON and files as before, and what LevelDB (its write-ahead log,
its tables, every compaction leftover, every backup) sees is ciphertext. The cipher is the deployment
suite's (:mod:`ledger.core.aead`: AES-256-GCM for ``intl``, SM4-GCM for ``gm``); each case has its own data
key (:mod:`ledger.hall.datakeys`, wrapped by the KEK, kept apart from the store and its backups).

What is sealed, by store key::

    rec/<serial>/<seq>     the personal fields (PERSONAL_FIELDS) with their salts, and the file list
                           (kind, name, digest, salt, size of each file)                   case key
    blob/<serial>/<mac>    every material and result file                                   case key
    dcheck/<serial>/<h>    the stored verification report                                   case key
    idem/<user>/<h>        the first answer kept for an Idempotency-Key retry               day key
    sess/<token hash>      a session's CSRF token and client address                        day key

Everything the chain or a verifier needs stays as it was: the non-personal fields and their salts, the
commitment, the anchor state — and, for each sealed field, its salted **leaf hash** (``sealed.leaves``),
which reveals nothing without the salt. So a record whose case key was destroyed still recomputes to its
on-chain commitment: it reads back with those fields *withheld*, like an erased one, and bundles and proofs
of the rest still verify. That is how retention erasure reaches every backup (crypto-shredding):
:meth:`AtRest.shred` destroys the case key, and no copy of the store, taken before or after, opens again.

**Envelope.** ``"CLE1" ‖ key id (16 bytes) ‖ nonce (12) ‖ ciphertext ‖ tag (16)``; in JSON as base64. The
associated data binds it to its place: ``caseledger-at-rest/1 ‖ 0x00 ‖ hall id (uint32) ‖ 0x00 ‖ purpose ‖
0x00 ‖ the LevelDB key`` — a ciphertext copied to another record, another case or another hall does not open.

**Files** are addressed by a keyed MAC of their digest under the case key (HMAC with the suite's hash:
SHA-256 or SM3, key ``HMAC(case key, "caseledger blob address")``), not by the plain digest, which would
confirm a guessed file to whoever reads the key names. Identical files are stored once per case; across
cases they are stored once each (deduplication across cases would tell that two cases share a file, and
one case's erasure would have to wait for the other's).

**Chunks** (issue 20). A file is stored as chunks of 1 MiB (:mod:`ledger.hall.store`), each sealed alone at
``blob/<serial>/<fid>/<i:06d>`` (``fid``: 16 random bytes naming this copy) with purpose ``chunk`` and the
associated data extended by a final-chunk flag: ``… ‖ "chunk" ‖ 0x00 ‖ the chunk's key ‖ 0x00 ‖ final (0x01 on
the last chunk, 0x00 before)``. The key names case, copy and index, so a chunk moved to another index, another
file or another case, or a non-final chunk presented as the last, does not open (a STREAM-like construction,
Hoang–Reyhanitabar–Rogaway–Vizár 2015, with the suite's AEAD and a random nonce per chunk). The file's
**manifest** sits at its address ``blob/<serial>/<mac>``: ``"CLM1" ‖ fid (16) ‖ envelope`` whose plaintext is
the chunk count and size, sealed with purpose ``manifest`` and AD ``… ‖ the address ‖ 0x00 ‖ fid``: so the
manifest names exactly these chunks, how many (a file with chunks dropped from its end does not read), and
cannot be moved to another file's address. Reading re-hashes the file against its digest. Erasure deletes
chunks and manifests with the rest of ``blob/<serial>/`` and destroys the key: both are sealed under it.
A file stored whole at its address (before chunking) still reads as before; nothing converts it.

**Bindings.** ``ck/<serial>`` names the case's key id; it is written by the codec in the same batch as the
case's first sealed value, so a case never has data under a key its store does not name.

**Conversion.** A store of layout 1 (written before this module, plaintext) is converted in place at start
(:meth:`AtRest.convert`): every value above is rewritten sealed, files move from ``blob/<digest>`` to their
case, the plain copies are deleted and the store compacted twice, so the old bytes leave the LevelDB
files; the marker then says layout 2. Backups taken before the conversion still hold plaintext.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as chmac

from ledger.core.aead import Aead, AeadError, cipher_of_suite
from ledger.core.records import field_leaf
from ledger.core.suites import Suite
from ledger.errors import ConfigError, DataErasedError, NotFoundError, StoreDamagedError
from ledger.hall.accounts import open_kek
from ledger.hall.datakeys import DataKeys
from ledger.hall.kek import KeyEncryptionKey
from ledger.hall.keys import (
    BLOB_PREFIX,
    CASE_DATA_KEY_PREFIX,
    CASE_PREFIX,
    CHECK_PREFIX,
    IDEM_PREFIX,
    RECORD_PREFIX,
    SESSION_PREFIX,
    STORE_INIT_KEY,
    blob_key,
    case_blob_key,
    case_blob_prefix,
    case_data_key,
    check_prefix,
    chunk_key,
    record_prefix,
)
from ledger.hall.store import (
    MANIFEST_MAGIC,
    STORE_LAYOUT,
    Manifest,
    PlainCodec,
    StagedBlob,
    Store,
    dump_json,
    load_json,
    manifest_fid,
)

__all__ = ["MAGIC", "AtRest", "HallKeys", "open_hall_keys"]

log = logging.getLogger("caseledger.atrest")

MAGIC = b"CLE1"
_AAD = b"caseledger-at-rest/1"
_ADDR_LABEL = b"caseledger blob address"
_ID = 16
_NONCE = 12
_DAY_SEALED: dict[bytes, tuple[str, ...]] = {IDEM_PREFIX: ("body",), SESSION_PREFIX: ("csrf", "client")}
_CASE_SEALED: dict[bytes, tuple[str, ...]] = {CHECK_PREFIX: ("report",)}


def _serial_of(key: bytes, prefix: bytes) -> str:
    return key[len(prefix) :].split(b"/", 1)[0].decode()


def _blob_serial(key: bytes) -> str:
    return key[len(BLOB_PREFIX) :].split(b"/", 1)[0].decode()


def _day_of(expires_at: Any) -> str:
    try:
        return datetime.fromtimestamp(float(expires_at), UTC).strftime("%Y%m%d")
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC).strftime("%Y%m%d")


class AtRest:
    """The sealing codec of one hall's store (thread-safe: no mutable state beyond the key store's caches)."""

    sealing = True

    def __init__(self, store: Store, keys: DataKeys, *, hall_id: int, suite: Suite, personal_fields: Iterable[str]):
        self.store = store
        self.keys = keys
        self.hall_id = hall_id
        self.suite = suite
        self.personal = tuple(personal_fields)
        self._addr_keys: dict[str, bytes] = {}

    @classmethod
    def install(
        cls, store: Store, keys: DataKeys, *, hall_id: int, suite: Suite, personal_fields: Iterable[str] | None = None
    ) -> AtRest:
        """Seal ``store``'s personal data from now on; returns the codec (``store.codec``)."""
        if personal_fields is None:
            from ledger.hall.cases import PERSONAL_FIELDS

            personal_fields = PERSONAL_FIELDS
        codec = cls(store, keys, hall_id=hall_id, suite=suite, personal_fields=personal_fields)
        store.codec = codec
        return codec

    # ------------------------------------------------------------------ envelopes
    def _aad(self, purpose: bytes, key: bytes) -> bytes:
        return _AAD + b"\x00" + struct.pack(">I", self.hall_id) + b"\x00" + purpose + b"\x00" + key

    def _seal(self, kid: str, aead: Aead, purpose: bytes, key: bytes, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return MAGIC + bytes.fromhex(kid) + nonce + aead.encrypt(nonce, plaintext, self._aad(purpose, key))

    @staticmethod
    def envelope_kid(env: bytes) -> str:
        if len(env) < len(MAGIC) + _ID + _NONCE + 16 or not env.startswith(MAGIC):
            raise StoreDamagedError("a sealed value in the store is not a CaseLedger envelope (damaged)")
        return env[len(MAGIC) : len(MAGIC) + _ID].hex()

    def _open(self, purpose: bytes, key: bytes, env: bytes) -> bytes | None:
        """The plaintext, or None when its key was destroyed (erased, expired)."""
        kid = self.envelope_kid(env)
        aead = self.keys.aead(kid)
        if aead is None:
            return None
        start = len(MAGIC) + _ID
        try:
            return aead.decrypt(env[start : start + _NONCE], env[start + _NONCE :], self._aad(purpose, key))
        except AeadError as exc:
            raise StoreDamagedError(
                f"a sealed value at {key.decode(errors='replace')} does not open under its data key (altered, or "
                "moved from another record, case or hall)"
            ) from exc

    # ------------------------------------------------------------------ case keys
    def case_kid(self, serial: str) -> str | None:
        raw = self.store.get(case_data_key(serial))
        return None if raw is None else str(json.loads(raw)["id"])

    def _case_key(self, serial: str, pending: dict[str, str]) -> tuple[str, Aead, list[tuple[bytes, bytes]]]:
        """The case's key id and cipher, and the binding to write when this batch makes it."""
        extra: list[tuple[bytes, bytes]] = []
        kid = pending.get(serial) or self.case_kid(serial)
        if kid is None:
            kid = self.keys.take(serial)
            pending[serial] = kid
            extra.append((case_data_key(serial), dump_json({"id": kid, "at": time.time()})))
        aead = self.keys.aead(kid)
        if aead is None:
            raise DataErasedError("personal_data_erased", serial=serial, detail="nothing of it is written")
        return kid, aead, extra

    def committed(self, pending: dict[str, str]) -> None:
        return None

    # ------------------------------------------------------------------ JSON values
    def encode(self, key: bytes, value: Any, pending: dict[str, str]) -> list[tuple[bytes, bytes]]:
        if key.startswith(RECORD_PREFIX) and isinstance(value, dict):
            return self._encode_record(key, value, pending)
        for prefix, names in _CASE_SEALED.items():
            if key.startswith(prefix) and isinstance(value, dict):
                try:
                    kid, aead, extra = self._case_key(_serial_of(key, prefix), pending)
                except DataErasedError:  # a case erased already: nothing personal of it is left to seal
                    return [(key, dump_json(value))]
                return [self._encode_named(key, value, names, kid, aead, b"case"), *extra]
        for prefix, names in _DAY_SEALED.items():
            if key.startswith(prefix) and isinstance(value, dict) and any(n in value for n in names):
                day = _day_of(value.get("expires_at"))
                got = self.keys.day_key(day)
                if got is None:  # already expired: keep nothing of it
                    return [(key, dump_json({k: v for k, v in value.items() if k not in names}))]
                return [self._encode_named(key, value, names, got[0], got[1], b"day")]
        return [(key, dump_json(value))]

    def _encode_named(
        self, key: bytes, value: dict[str, Any], names: tuple[str, ...], kid: str, aead: Aead, purpose: bytes
    ) -> tuple[bytes, bytes]:
        secret = {n: value[n] for n in names if n in value}
        rest = {k: v for k, v in value.items() if k not in names}
        env = self._seal(kid, aead, purpose, key, dump_json(secret))
        return key, dump_json({**rest, "sealed": {"data": base64.b64encode(env).decode()}})

    def _encode_record(self, key: bytes, value: dict[str, Any], pending: dict[str, str]) -> list[tuple[bytes, bytes]]:
        value = dict(value)
        value.pop("personal_data_erased", None)
        fields = dict(value.get("fields") or {})
        salts = dict(value.get("salts") or {})
        files = list(value.get("files") or [])
        personal = [n for n in self.personal if n in fields]
        if not personal and not files:
            return [(key, dump_json(value))]
        serial = _serial_of(key, RECORD_PREFIX)
        kid, aead, extra = self._case_key(serial, pending)
        leaves = {n: field_leaf(n, fields[n], salts[n], self.suite).hex() for n in personal if n in salts}
        secret = {
            "order": list(fields),
            "fields": {n: fields.pop(n) for n in personal},
            "salts": {n: salts.pop(n) for n in personal if n in salts},
            "files": files,
        }
        env = self._seal(kid, aead, b"record", key, dump_json(secret))
        stored = {
            **value,
            "fields": fields,
            "salts": salts,
            "files": [],
            "sealed": {"data": base64.b64encode(env).decode(), "leaves": leaves, "files": len(files)},
        }
        return [(key, dump_json(stored)), *extra]

    def decode(self, key: bytes, raw: bytes) -> Any:
        value = load_json(raw)
        if not isinstance(value, dict) or "sealed" not in value:
            return value
        sealed = value.pop("sealed")
        try:
            env = base64.b64decode(sealed["data"], validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreDamagedError(f"the sealed value at {key.decode(errors='replace')} is damaged") from exc
        if key.startswith(RECORD_PREFIX):
            return self._decode_record(key, value, sealed, env)
        purpose = b"day" if any(key.startswith(p) for p in _DAY_SEALED) else b"case"
        plain = self._open(purpose, key, env)
        if plain is None:
            return {**value, "personal_data_erased": True} if purpose == b"case" else value
        return {**value, **load_json(plain)}

    def _decode_record(self, key: bytes, value: dict[str, Any], sealed: dict[str, Any], env: bytes) -> dict[str, Any]:
        plain = self._open(b"record", key, env)
        if plain is None:  # the case key was destroyed: what was sealed reads back withheld, as after erasure
            withheld = {**(value.get("withheld") or {}), **dict(sealed.get("leaves") or {})}
            return {**value, "withheld": withheld, "files": [], "personal_data_erased": True}
        secret = load_json(plain)
        merged = {**value.get("fields", {}), **secret["fields"]}
        order = [n for n in secret.get("order", []) if n in merged] + [n for n in merged if n not in secret["order"]]
        return {
            **value,
            "fields": {n: merged[n] for n in order},
            "salts": {**value.get("salts", {}), **secret["salts"]},
            "files": secret["files"],
        }

    # ------------------------------------------------------------------ files
    def _address(self, kid: str, aead: Aead, digest: str) -> str:
        ak = self._addr_keys.get(kid)
        if ak is None:
            ak = self._mac(aead.key, _ADDR_LABEL)
            if len(self._addr_keys) > 4096:
                self._addr_keys.clear()
            self._addr_keys[kid] = ak
        return self._mac(ak, digest.encode()).hex()

    def _mac(self, key: bytes, data: bytes) -> bytes:
        if self.suite.name == "gm":
            h = chmac.HMAC(key, hashes.SM3())
            h.update(data)
            return h.finalize()
        return hmac.new(key, data, hashlib.sha256).digest()

    def seal_blob(self, case: str, digest: str, data: bytes, pending: dict[str, str]) -> list[tuple[bytes, bytes]]:
        kid, aead, extra = self._case_key(case, pending)
        key = case_blob_key(case, self._address(kid, aead, digest))
        return [(key, self._seal(kid, aead, b"file", key, data)), *extra]

    def blob_key(self, case: str, digest: str) -> bytes:
        kid = self.case_kid(case)
        if kid is None:
            raise NotFoundError("file_not_found", digest=digest)
        aead = self.keys.aead(kid)
        if aead is None:
            raise DataErasedError("personal_data_erased", serial=case)
        return case_blob_key(case, self._address(kid, aead, digest))

    def open_blob(self, key: bytes, raw: bytes) -> bytes:
        plain = self._open(b"file", key, raw)
        if plain is None:
            raise DataErasedError("personal_data_erased", serial=_blob_serial(key))
        return plain

    @staticmethod
    def _chunk_place(key: bytes, final: bool) -> bytes:
        return key + b"\x00" + (b"\x01" if final else b"\x00")

    def seal_chunk(
        self, case: str, fid: str, index: int, final: bool, data: bytes, pending: dict[str, str]
    ) -> list[tuple[bytes, bytes]]:
        kid, aead, extra = self._case_key(case, pending)
        key = chunk_key(case, fid, index)
        return [(key, self._seal(kid, aead, b"chunk", self._chunk_place(key, final), data)), *extra]

    def open_chunk(self, key: bytes, final: bool, raw: bytes) -> bytes:
        plain = self._open(b"chunk", self._chunk_place(key, final), raw)
        if plain is None:
            raise DataErasedError("personal_data_erased", serial=_blob_serial(key))
        return plain

    def seal_manifest(self, staged: StagedBlob, pending: dict[str, str]) -> list[tuple[bytes, bytes]]:
        kid, aead, extra = self._case_key(staged.case, pending)
        key = case_blob_key(staged.case, self._address(kid, aead, staged.digest))
        fid = bytes.fromhex(staged.fid)
        body = dump_json({"chunks": staged.chunks, "size": staged.size})
        env = self._seal(kid, aead, b"manifest", key + b"\x00" + fid, body)
        return [(key, MANIFEST_MAGIC + fid + env), *extra]

    def open_manifest(self, key: bytes, raw: bytes) -> Manifest:
        fid = manifest_fid(raw)
        if fid is None:
            raise StoreDamagedError(f"the value at {key.decode(errors='replace')} is not a file manifest (damaged)")
        plain = self._open(b"manifest", key + b"\x00" + bytes.fromhex(fid), raw[len(MANIFEST_MAGIC) + 16 :])
        if plain is None:
            raise DataErasedError("personal_data_erased", serial=_blob_serial(key))
        try:
            body = load_json(plain)
            return Manifest(case=_blob_serial(key), fid=fid, chunks=int(body["chunks"]), size=int(body["size"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreDamagedError(f"the file manifest at {key.decode(errors='replace')} is damaged") from exc

    # ------------------------------------------------------------------ erasure (crypto-shredding)
    def case_kids(self, serial: str) -> set[str]:
        """Every data key id the case's sealed values name (its binding and every envelope)."""
        kids = set()
        if (kid := self.case_kid(serial)) is not None:
            kids.add(kid)
        for prefix in (record_prefix(serial), check_prefix(serial)):
            for _, raw in self.store.iter_prefix(prefix):
                v = json.loads(raw)
                if isinstance(v, dict) and isinstance(v.get("sealed"), dict):
                    kids.add(self.envelope_kid(base64.b64decode(v["sealed"]["data"])))
        for _, raw in self.store.iter_prefix(case_blob_prefix(serial)):
            kids.add(self.envelope_kid(raw[len(MANIFEST_MAGIC) + 16 :] if manifest_fid(raw) else raw))
        return kids

    def shred(self, serial: str) -> list[str]:
        """Destroy the data keys of ``serial`` and delete its (now unreadable) files; returns the key ids.

        The caller compacts the store afterwards. Idempotent: a key already destroyed stays destroyed."""
        kids = sorted(self.case_kids(serial))
        gone = [k for k, _ in self.store.iter_prefix_keys(case_blob_prefix(serial))]
        with self.store.write_batch() as wb:
            for k in gone:
                wb.delete(k)
        for kid in kids:
            self.keys.destroy(kid, serial=serial, why="erased", compact=False)
        if kids:
            self.keys.store.compact()
        return kids

    # ------------------------------------------------------------------ start: keys present, conversion
    def bindings(self) -> dict[str, str]:
        """kid → serial of every case binding in the store."""
        out = {}
        for k, raw in self.store.iter_prefix(CASE_DATA_KEY_PREFIX):
            out[str(json.loads(raw)["id"])] = k[len(CASE_DATA_KEY_PREFIX) :].decode()
        return out

    def missing_keys(self) -> dict[str, str]:
        """kid → serial of the bindings whose key the key store neither holds nor destroyed."""
        return {kid: s for kid, s in self.bindings().items() if self.keys.state(kid) == "missing"}

    def check(self) -> None:
        """At start: every case's key is in the key store (or was destroyed); spares the store uses are used."""
        bound = self.bindings()
        missing = {kid: s for kid, s in bound.items() if self.keys.state(kid) == "missing"}
        if missing:
            first = sorted(missing.values())[0]
            raise ConfigError(
                f"the data-key store {self.keys.path} lacks the keys of {len(missing)} case(s) of this store "
                f"(first: {first}): put back the data-key store kept beside the key-encryption key "
                "(docs/operations.md, backup and restore); if it is lost for good, `caseledger hall "
                "accept-lost-keys` records that their personal data and files are gone and lets the node start"
            )
        fixed = self.keys.reconcile(bound)
        if fixed:
            log.warning("at rest: %d spare data key(s) were already bound to cases; marked used", fixed)

    def layout(self) -> int:
        return int((self.store.get_json(STORE_INIT_KEY) or {}).get("layout", 1))

    def _layout1_file(self, digest: str, chunks: list[bytes]) -> bytes | None:
        """A file of a plaintext store: whole at ``blob/<digest>``, or (written by a release that chunks files,
        :class:`~ledger.hall.store.PlainCodec`) plain chunks its manifest there names, added to ``chunks``."""
        key = blob_key(digest)
        raw = self.store.get(key)
        if raw is None or manifest_fid(raw) is None:
            return raw
        m = PlainCodec().open_manifest(key, raw)
        keys = [chunk_key(m.case, m.fid, i) for i in range(m.chunks)]
        chunks += keys
        return b"".join(self.store.get(k) or b"" for k in keys)

    def convert(self) -> int:
        """Seal a plaintext store (layout 1) in place; returns the number of values rewritten. Idempotent."""
        n = 0
        plain_chunks: list[bytes] = []
        serials = [k[len(CASE_PREFIX) :].decode() for k, _ in self.store.iter_prefix(CASE_PREFIX)]
        for serial in serials:
            with self.store.write_batch() as wb:
                for k, v in self.store.iter_json(record_prefix(serial)):
                    for f in v.get("files") or []:
                        data = self._layout1_file(str(f["digest"]), plain_chunks)
                        if data is not None:
                            wb.put_blob(data, case=serial)
                    wb.put_json(k, v)
                    n += 1
                for k, v in self.store.iter_json(check_prefix(serial)):
                    wb.put_json(k, v)
                    n += 1
        for prefix in _DAY_SEALED:
            for k, v in list(self.store.iter_json(prefix)):
                self.store.put_json(k, v)
                n += 1
        legacy = [k for k, _ in self.store.iter_prefix(BLOB_PREFIX) if b"/" not in k[len(BLOB_PREFIX) :]]
        with self.store.write_batch() as wb:
            for k in [*legacy, *plain_chunks]:
                wb.delete(k)
        marker = self.store.get_json(STORE_INIT_KEY) or {}
        self.store.put_json(STORE_INIT_KEY, {**marker, "layout": STORE_LAYOUT, "converted_at": time.time()})
        self.store.compact()  # the plaintext versions leave the log and the tables
        log.info("at rest: sealed %d values and %d files of a layout-1 store", n, len(legacy))
        return n


@dataclass
class HallKeys:
    """What a hall node holds to read its store: the KEK, the data-key store and the codec installed on the store."""

    kek: KeyEncryptionKey
    data_keys: DataKeys
    codec: AtRest
    converted: int = 0

    def close(self) -> None:
        self.data_keys.close()


def _wrapped_kids(keys_dir: Path, suite: Suite) -> set[str]:
    """The KEK key ids the data-key store's entries are wrapped under (read before the KEK is opened)."""
    if not keys_dir.exists():
        return set()
    with Store(keys_dir, suite=suite) as ks:
        return {kid for _, v in ks.iter_json(b"dk/") if (kid := KeyEncryptionKey.kid_of(str(v.get("wrapped", ""))))}


def open_hall_keys(
    store: Store,
    *,
    kek_file: Path,
    keys_dir: Path,
    hall_id: int,
    suite: Suite,
    personal_fields: Iterable[str] | None = None,
) -> HallKeys:
    """Open the KEK and the data-key store, install the sealing codec on ``store``, convert a layout-1 store, and
    check that every case's key is there. Refuses (:class:`ConfigError`, one sentence and the way out) a missing
    KEK or key store when the store needs them."""
    bound = store.count_prefix(CASE_DATA_KEY_PREFIX) > 0
    kek = open_kek(kek_file, store, cipher=cipher_of_suite(suite.name), also_needed=_wrapped_kids(keys_dir, suite))
    keys = DataKeys.open(
        keys_dir, kek, hall_id=hall_id, cipher=cipher_of_suite(suite.name), create=not bound, suite=suite
    )
    try:
        codec = AtRest.install(store, keys, hall_id=hall_id, suite=suite, personal_fields=personal_fields)
        converted = codec.convert() if codec.layout() < STORE_LAYOUT else 0
        codec.check()
    except BaseException:
        keys.close()
        raise
    return HallKeys(kek=kek, data_keys=keys, codec=codec, converted=converted)
