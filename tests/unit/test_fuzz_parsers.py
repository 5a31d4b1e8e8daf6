"""A fuzz pass (hypothesis) over the parsers that take outside input without a web server in between:
evidence bundle files, peer packages and backup archives. Each must answer with its documented error
(InputError / VerificationError / StoreError) and nothing else: no crash, no other exception.
(Multipart uploads are fuzzed through the real app: tests/integration/test_fuzz_multipart.py.)"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.core.bundle import load_bundle
from ledger.core.facts import ChainEvent
from ledger.core.stages import Stage
from ledger.errors import ConfigError, InputError, StoreError, VerificationError
from ledger.hall.backup import FORMAT, read_manifest, restore_backup
from ledger.hall.transfer import verify_package

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=25,
)

BUNDLE_KEYS = [
    "format",
    "mode",
    "suite",
    "serial",
    "accepting_hall",
    "pending_records",
    "chain_id",
    "ledger",
    "registry",
    "exported_at",
    "exported_by",
    "events",
    "materials",
]
bundles = st.fixed_dictionaries(
    {}, optional=dict.fromkeys(BUNDLE_KEYS, json_values) | {"format": st.just("caseledger-evidence/2")}
)


@SETTINGS
@given(st.one_of(bundles, json_values).map(lambda v: json.dumps(v).encode()) | st.binary(max_size=300))
def test_bundle_files(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "b.json"
        p.write_bytes(raw)
        try:
            load_bundle(p)
        except InputError as exc:
            assert str(exc)


def _event(index: int, stage: Stage) -> ChainEvent:
    return ChainEvent(
        case_id="0x" + "00" * 32,
        hall_id=1,
        stage=stage,
        writer="0x" + "00" * 20,
        index=index,
        commitment=b"\x01" * 32,
        head=b"\x02" * 32,
        ref=0,
        prev_block=0,
        block_number=1,
        tx_hash="0x" + "00" * 32,
        log_index=index,
    )


record = st.fixed_dictionaries(
    {},
    optional={
        "index": st.one_of(st.integers(-2, 3), st.text(max_size=3), st.none()),
        "stage": st.one_of(st.sampled_from([s.name for s in Stage]), st.text(max_size=5), st.integers()),
        "fields": st.one_of(st.dictionaries(st.text(max_size=8), scalars, max_size=4), json_values),
        "salts": st.one_of(st.dictionaries(st.text(max_size=8), st.text(max_size=64), max_size=4), json_values),
        "withheld": json_values,
        "files": st.one_of(
            st.lists(
                st.dictionaries(st.sampled_from(["kind", "name", "digest", "size", "salt", "data"]), json_values),
                max_size=2,
            ),
            json_values,
        ),
    },
)


@SETTINGS
@given(st.fixed_dictionaries({"serial": st.sampled_from(["TB-1", "other"]), "records": st.lists(record, max_size=3)}))
def test_peer_packages(package: dict[str, Any]) -> None:
    events = [_event(0, Stage.INTAKE), _event(1, Stage.MATERIALS)]
    try:
        verify_package("TB-1", package, events)
    except VerificationError as exc:
        assert str(exc)


def _tar(entries: list[tuple[str, bytes, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc/passwd"
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return buf.getvalue()


MANIFEST_KEYS = (
    "hall_id",
    "district",
    "name",
    "account",
    "created_at",
    "chain_block",
    "indexer_cursor",
    "keys",
    "files",
)
manifest = st.fixed_dictionaries({"format": st.just(FORMAT)}, optional=dict.fromkeys(MANIFEST_KEYS, json_values)).map(
    lambda m: json.dumps(m).encode()
)
entry = st.tuples(
    st.sampled_from(
        [
            "store/CURRENT",
            "store/000001.ldb",
            "../x",
            "/abs",
            "keystore.json",
            "kek.json",
            "hall.json",
            "store",
            "store/a/../../b",
        ]
    ),
    st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE]),
    st.binary(max_size=64),
)
archives = st.one_of(
    st.binary(max_size=300),
    st.tuples(manifest | st.binary(max_size=50), st.lists(entry, max_size=5)).map(
        lambda t: _tar([("manifest.json", tarfile.REGTYPE, t[0]), *t[1]])
    ),
)


@SETTINGS
@given(archives, st.integers(0, 2**31))
def test_backup_archives(raw: bytes, flip: int) -> None:
    if raw and flip % 3 == 0:  # a flipped byte somewhere in a well-formed archive
        b = bytearray(raw)
        b[flip % len(b)] ^= 0x40
        raw = bytes(b)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "b.tar.gz"
        p.write_bytes(raw)
        try:
            read_manifest(p)
            restore_backup(p, Path(d) / "hall")
        except (StoreError, ConfigError, InputError) as exc:
            assert str(exc)
