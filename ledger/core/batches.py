"""Merkle-root batches (Merkle mode): event leaves, batch manifests, inclusion proofs, the batch chain.

In Merkle mode a hall anchors one root per batch (``CaseLedger.anchorRootAt(seq, root, count)``) instead
of one log per event. The root is the RFC 6962 tree, in the deployment's suite ``H`` (0x00 leaves, 0x01
nodes: :mod:`ledger.core.merkle`), over the batch's **event leaves**, in batch order. A leaf says what an
``EventAppended`` log says in event mode, plus the per-case back-link a reader needs without logs::

    off  len  field
    0    8    tag            ASCII "CLEVENT1"
    8    32   case_id        keccak256(uint32 accepting_hall ‖ utf8(serial))
    40   4    accepting_hall uint32 big-endian
    44   4    index          uint32: the event's index in its case (INTAKE is 0)
    48   1    stage          uint8 (the contract's Stage enum)
    49   32   commitment     the record's salted Merkle root
    81   4    writer_hall    uint32: the hall that anchors the batch
    85   20   writer         the hall key that sends the batch (the hash chain's writer)
    105  32   head           the case's hash-chain head after this event (as in event mode)
    137  4    ref            uint32: the dispute a DISPUTE_RESOLVED closes, else 0
    141  4    prev_hall      uint32: the hall whose batch holds event index-1 (0 for INTAKE)
    145  8    prev_seq       uint64: that batch's sequence number (0 for INTAKE)
    153  4    home_district  INTAKE only: uint32
    157  16   item_code      INTAKE only: ASCII, right-padded with zero bytes
    173  1    serial_len     INTAKE only: 1..64
    174  n    serial         INTAKE only: UTF-8

so a leaf is 153 bytes, an INTAKE leaf 174 + len(serial). ``leaf_hash = H(0x00 ‖ leaf)``; the tag keeps
an event leaf from ever equalling a record field leaf or a file leaf (both JCS objects, starting ``{``).

A **manifest** lists a batch's leaves (their preimages: nothing personal) so that anyone can recompute its
root and find the events in it; it is checked against the on-chain root before anything in it is used::

    0   8   magic  ASCII "CLMANIF1"
    8   8   suite  "intl" / "gm", zero-padded (as CaseLedger.hashSuite())
    16  4   hall   uint32
    20  8   seq    uint64
    28  4   count  uint32 (1 .. MAX_LEAVES)
    32  ..  count × (uint16 big-endian length ‖ leaf)

The per-hall **batch chain** is the contract's:
``batchHead_s = keccak256(batchHead_{s-1} ‖ uint64 s ‖ root ‖ uint32 count)``, ``batchHead_{-1}`` = 32 zero bytes::

    >>> leaves = [EventLeaf(...), ...]
    >>> tree = BatchTree.of([l.encode() for l in leaves], INTL)
    >>> proof = tree.proof(3)
    >>> verify_leaf(leaves[3].encode(), 3, tree.size, proof, tree.root, INTL)   # raises on mismatch
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ledger.core.hashchain import address_bytes, case_id, keccak256
from ledger.core.merkle import root_from_inclusion
from ledger.core.stages import Stage
from ledger.core.suites import INTL, SUITES, Suite
from ledger.errors import InputError, VerificationError

__all__ = [
    "LEAF_TAG",
    "MANIFEST_MAGIC",
    "MAX_LEAVES",
    "BatchTree",
    "EventLeaf",
    "Manifest",
    "batch_head",
    "leaf_hashes",
    "verify_leaf",
]

LEAF_TAG = b"CLEVENT1"
MANIFEST_MAGIC = b"CLMANIF1"
MAX_LEAVES = 65_536
"""most leaves in one batch (a manifest is then at most about 16 MiB)"""
LEAF_SIZE = 153
_MAX_SERIAL = 64


def _u(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


@dataclass(frozen=True, slots=True)
class EventLeaf:
    """One event of a Merkle-mode batch (see the module docstring for the bytes)."""

    case_id: bytes
    accepting_hall: int
    index: int
    stage: Stage
    commitment: bytes
    writer_hall: int
    writer: bytes
    head: bytes
    ref: int = 0
    prev_hall: int = 0
    prev_seq: int = 0
    home_district: int = 0
    item_code: str = ""
    serial: str = ""

    def encode(self) -> bytes:
        """The leaf's bytes (what is hashed and what a manifest lists)."""
        out = b"".join(
            (
                LEAF_TAG,
                self.case_id,
                self.accepting_hall.to_bytes(4, "big"),
                self.index.to_bytes(4, "big"),
                bytes((int(self.stage),)),
                self.commitment,
                self.writer_hall.to_bytes(4, "big"),
                self.writer,
                self.head,
                self.ref.to_bytes(4, "big"),
                self.prev_hall.to_bytes(4, "big"),
                self.prev_seq.to_bytes(8, "big"),
            )
        )
        if self.stage != Stage.INTAKE:
            return out
        serial = self.serial.encode("utf-8")
        item = self.item_code.encode("ascii")
        return b"".join(
            (out, self.home_district.to_bytes(4, "big"), item.ljust(16, b"\x00"), bytes((len(serial),)), serial)
        )

    @classmethod
    def decode(cls, raw: bytes) -> EventLeaf:
        """Parse leaf bytes; :class:`InputError` (``field`` = ``leaf``) naming what is wrong."""
        if len(raw) < LEAF_SIZE or raw[:8] != LEAF_TAG:
            raise InputError("leaf", "leaf_invalid", reason=f"not an event leaf (tag {raw[:8]!r}, {len(raw)} bytes)")
        try:
            stage = Stage(raw[48])
        except ValueError:
            raise InputError("leaf", "leaf_invalid", reason=f"unknown stage {raw[48]}") from None
        leaf = {
            "case_id": raw[8:40],
            "accepting_hall": _u(raw[40:44]),
            "index": _u(raw[44:48]),
            "stage": stage,
            "commitment": raw[49:81],
            "writer_hall": _u(raw[81:85]),
            "writer": raw[85:105],
            "head": raw[105:137],
            "ref": _u(raw[137:141]),
            "prev_hall": _u(raw[141:145]),
            "prev_seq": _u(raw[145:153]),
        }
        if stage != Stage.INTAKE:
            if len(raw) != LEAF_SIZE:
                raise InputError(
                    "leaf", "leaf_invalid", reason=f"a {stage.name} leaf is {LEAF_SIZE} bytes, not {len(raw)}"
                )
            return cls(**leaf)  # type: ignore[arg-type]
        if len(raw) < LEAF_SIZE + 22:
            raise InputError(
                "leaf", "leaf_invalid", reason="an INTAKE leaf is too short for its district, item and serial"
            )
        n = raw[173]
        if not 1 <= n <= _MAX_SERIAL or len(raw) != 174 + n:
            raise InputError(
                "leaf", "leaf_invalid", reason=f"an INTAKE leaf's serial length {n} does not fit its {len(raw)} bytes"
            )
        item = raw[157:173]
        try:
            item_code = item.rstrip(b"\x00").decode("ascii")
            serial = raw[174:].decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(
                "leaf", "leaf_invalid", reason="an INTAKE leaf's item code or serial is not text"
            ) from None
        if item_code.encode("ascii").ljust(16, b"\x00") != item:
            raise InputError(
                "leaf", "leaf_invalid", reason="an INTAKE leaf's item code has bytes after its zero padding"
            )
        return cls(**leaf, home_district=_u(raw[153:157]), item_code=item_code, serial=serial)  # type: ignore[arg-type]

    def check_case_id(self) -> None:
        """An INTAKE leaf names its case: ``case_id`` must be derived from its accepting hall and serial."""
        if self.stage == Stage.INTAKE and case_id(self.accepting_hall, self.serial) != self.case_id:
            raise VerificationError(
                "the INTAKE leaf's case id is not keccak256(accepting hall ‖ serial)",
                expected="0x" + case_id(self.accepting_hall, self.serial).hex(),
                found="0x" + self.case_id.hex(),
                where="leaf",
            )

    @property
    def writer_hex(self) -> str:
        return "0x" + self.writer.hex()

    @classmethod
    def new(
        cls,
        *,
        accepting_hall: int,
        serial: str,
        index: int,
        stage: Stage,
        commitment: bytes,
        writer_hall: int,
        writer: str | bytes,
        head: bytes,
        ref: int = 0,
        prev: tuple[int, int] = (0, 0),
        home_district: int = 0,
        item_code: str = "",
    ) -> EventLeaf:
        """A leaf from its parts (``prev`` = (hall, seq) of the batch holding event ``index - 1``)."""
        intake = stage == Stage.INTAKE
        if intake and not 1 <= len(serial.encode("utf-8")) <= _MAX_SERIAL:
            raise InputError("serial", "leaf_serial_length")
        return cls(
            case_id=case_id(accepting_hall, serial),
            accepting_hall=accepting_hall,
            index=index,
            stage=stage,
            commitment=commitment,
            writer_hall=writer_hall,
            writer=writer if isinstance(writer, bytes) else address_bytes(writer),
            head=head,
            ref=ref,
            prev_hall=prev[0],
            prev_seq=prev[1],
            home_district=home_district if intake else 0,
            item_code=item_code if intake else "",
            serial=serial if intake else "",
        )


def leaf_hashes(leaves: Sequence[bytes], suite: Suite = INTL) -> list[bytes]:
    """``H(0x00 ‖ leaf)`` of every leaf (SHA-256 through hashlib directly: this is the sender's hot loop)."""
    if suite.name == "intl":
        sha = hashlib.sha256
        return [sha(b"\x00" + x).digest() for x in leaves]
    h = suite.hash
    return [h(b"\x00" + x) for x in leaves]


def _levels(hashes: list[bytes], suite: Suite) -> list[list[bytes]]:
    """Every level of the RFC 6962 tree, bottom-up; an odd last node moves up unchanged (the same tree as
    RFC 9162 §2.1.1's split at the largest power of two below n)."""
    levels = [hashes]
    if suite.name == "intl":
        sha = hashlib.sha256

        def node(a: bytes, b: bytes) -> bytes:
            return sha(b"\x01" + a + b).digest()
    else:
        hf = suite.hash

        def node(a: bytes, b: bytes) -> bytes:
            return hf(b"\x01" + a + b)

    cur = hashes
    while len(cur) > 1:
        nxt = [node(cur[i], cur[i + 1]) for i in range(0, len(cur) - 1, 2)]
        if len(cur) % 2:
            nxt.append(cur[-1])
        levels.append(nxt)
        cur = nxt
    return levels


@dataclass(frozen=True)
class BatchTree:
    """The tree of one batch: its root, and inclusion proofs of any leaf (computed from the kept levels)."""

    levels: list[list[bytes]]
    suite: Suite

    @classmethod
    def of(cls, leaves: Sequence[bytes], suite: Suite = INTL) -> BatchTree:
        if not leaves:
            raise InputError("batch", "batch_empty")
        return cls(_levels(leaf_hashes(leaves, suite), suite), suite)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def proof(self, index: int) -> list[bytes]:
        """The RFC 9162 audit path of leaf ``index``, bottom-up."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} outside a batch of {self.size}")
        path: list[bytes] = []
        i = index
        for level in self.levels[:-1]:
            sibling = i ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            i >>= 1
        return path


def verify_leaf(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes, suite: Suite = INTL) -> None:
    """Raise :class:`VerificationError` unless ``leaf`` (its bytes) is leaf ``index`` of a batch with ``root``."""
    got = root_from_inclusion(leaf_hashes([leaf], suite)[0], index, size, path, suite)
    if got != root:
        raise VerificationError(
            "the event's inclusion proof does not lead to its batch's on-chain root",
            expected="0x" + root.hex(),
            found="0x" + got.hex(),
            where="batch",
        )


def batch_head(prev: bytes, seq: int, root: bytes, count: int) -> bytes:
    """``keccak256(prev ‖ uint64 seq ‖ root ‖ uint32 count)``, as ``CaseLedger.computeBatchHead``."""
    return keccak256(prev + seq.to_bytes(8, "big") + root + count.to_bytes(4, "big"))


@dataclass(frozen=True)
class Manifest:
    """A batch's leaves as served between halls (``hall``, ``seq``: the batch on chain)."""

    suite: Suite
    hall: int
    seq: int
    leaves: tuple[bytes, ...]

    def encode(self) -> bytes:
        parts = [
            MANIFEST_MAGIC,
            self.suite.bytes8,
            self.hall.to_bytes(4, "big"),
            self.seq.to_bytes(8, "big"),
            len(self.leaves).to_bytes(4, "big"),
        ]
        for leaf in self.leaves:
            parts.append(len(leaf).to_bytes(2, "big"))
            parts.append(leaf)
        return b"".join(parts)

    @classmethod
    def decode(cls, raw: bytes, *, max_leaves: int = MAX_LEAVES) -> Manifest:
        """Parse manifest bytes (bounded); :class:`InputError` (``field`` = ``manifest``) naming the problem."""
        if len(raw) < 32 or raw[:8] != MANIFEST_MAGIC:
            raise InputError(
                "manifest", "manifest_invalid", reason="not a batch manifest (caseledger manifest magic missing)"
            )
        name = raw[8:16].rstrip(b"\x00").decode("ascii", "replace")
        suite = SUITES.get(name)
        if suite is None or suite.bytes8 != raw[8:16]:
            raise InputError(
                "manifest", "manifest_invalid", reason=f"the manifest names an unknown hash suite 0x{raw[8:16].hex()}"
            )
        hall, seq, count = _u(raw[16:20]), _u(raw[20:28]), _u(raw[28:32])
        if not 1 <= count <= max_leaves:
            raise InputError(
                "manifest", "manifest_invalid", reason=f"a manifest lists 1 to {max_leaves} leaves, not {count}"
            )
        leaves: list[bytes] = []
        pos = 32
        for i in range(count):
            if pos + 2 > len(raw):
                raise InputError("manifest", "manifest_invalid", reason=f"the manifest ends inside leaf {i}")
            n = _u(raw[pos : pos + 2])
            pos += 2
            if n < LEAF_SIZE or pos + n > len(raw):
                raise InputError(
                    "manifest",
                    "manifest_invalid",
                    reason=f"leaf {i} of the manifest is cut short or too small ({n} bytes)",
                )
            leaves.append(raw[pos : pos + n])
            pos += n
        if pos != len(raw):
            raise InputError(
                "manifest", "manifest_invalid", reason=f"{len(raw) - pos} bytes follow the manifest's last leaf"
            )
        return cls(suite=suite, hall=hall, seq=seq, leaves=tuple(leaves))

    def tree(self) -> BatchTree:
        return BatchTree.of(self.leaves, self.suite)

    def check(self, *, hall: int, seq: int, root: bytes, count: int, suite: Suite) -> BatchTree:
        """The manifest's tree if it is the on-chain batch (hall, seq, root, count) in ``suite``; else raise
        :class:`VerificationError` naming the difference."""
        if self.suite.name != suite.name:
            raise VerificationError("the manifest is in another hash suite", expected=suite.name, found=self.suite.name)
        if (self.hall, self.seq) != (hall, seq):
            raise VerificationError(
                "the manifest is for another batch", expected=f"{hall}/{seq}", found=f"{self.hall}/{self.seq}"
            )
        if len(self.leaves) != count:
            raise VerificationError(
                "the manifest's leaf count differs from the batch's on-chain count",
                expected=str(count),
                found=str(len(self.leaves)),
            )
        t = self.tree()
        if t.root != root:
            raise VerificationError(
                "the manifest's leaves do not recompute to the batch's on-chain root",
                expected="0x" + root.hex(),
                found="0x" + t.root.hex(),
                where="manifest",
            )
        return t

    def events(self) -> Iterator[tuple[int, EventLeaf]]:
        """(position, leaf) of every leaf; :class:`InputError` for a leaf that does not parse."""
        for i, raw in enumerate(self.leaves):
            yield i, EventLeaf.decode(raw)
