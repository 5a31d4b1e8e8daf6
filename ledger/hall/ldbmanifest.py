"""Which table files a LevelDB database uses: its MANIFEST read without opening the database.

A LevelDB directory can hold table files the database does not use: the output of a compaction or of a
memtable flush that a stop, a ``kill -9`` or a power cut interrupted. The MANIFEST never names such a file
(a table is complete before the version edit naming it is logged) and LevelDB deletes it at the next open.
A check of the table files before the open (:func:`ledger.hall.store.check_table_footers`) must therefore
look at the live tables only, and can compare each with the size the MANIFEST recorded.

Formats (LevelDB ``doc/log_format.md``, ``db/version_edit.cc``): the MANIFEST is a log of 32 KiB blocks of
records (4-byte checksum, 2-byte length, 1-byte type: full / first / middle / last); each record is a
version edit, a sequence of tagged fields (varint tags) in which tag 7 adds a file (level, number, size,
smallest and largest key) and tag 6 deletes one (level, number). Pure: bytes in, a mapping out::

    tables = live_tables(manifest_bytes)   # {file number: size in bytes}
"""

from __future__ import annotations

from ledger.errors import StoreDamagedError

__all__ = ["live_tables"]

_BLOCK = 32768
_HEADER = 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4

# version edit tags (db/version_edit.cc)
_COMPARATOR, _LOG_NUMBER, _NEXT_FILE, _LAST_SEQUENCE = 1, 2, 3, 4
_COMPACT_POINTER, _DELETED_FILE, _NEW_FILE, _PREV_LOG_NUMBER = 5, 6, 7, 9


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def varint(self) -> int:
        value = shift = 0
        while True:
            if self.pos >= len(self.data) or shift > 63:
                raise StoreDamagedError("a version edit of the MANIFEST ends inside a number")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    def slice(self) -> bytes:
        n = self.varint()
        if self.pos + n > len(self.data):
            raise StoreDamagedError("a version edit of the MANIFEST ends inside a key")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def done(self) -> bool:
        return self.pos >= len(self.data)


def _records(log: bytes) -> list[bytes]:
    """The records of a LevelDB log (fragments joined); a torn last record (a crash while it was appended) is
    left out, as LevelDB's own reader does."""
    records: list[bytes] = []
    partial: bytearray | None = None
    pos = 0
    while pos + _HEADER <= len(log):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:  # the block's trailer: zeros
            pos += left
            continue
        length = int.from_bytes(log[pos + 4 : pos + 6], "little")
        kind = log[pos + 6]
        body = log[pos + _HEADER : pos + _HEADER + length]
        if kind == 0 and length == 0:  # pre-allocated zeros (a file written with mmap): the end
            break
        if len(body) < length or _HEADER + length > left:
            break  # torn record at the end
        pos += _HEADER + length
        if kind == _FULL:
            records.append(bytes(body))
            partial = None
        elif kind == _FIRST:
            partial = bytearray(body)
        elif kind == _MIDDLE and partial is not None:
            partial += body
        elif kind == _LAST and partial is not None:
            partial += body
            records.append(bytes(partial))
            partial = None
        else:
            raise StoreDamagedError(f"the MANIFEST has a record of unknown type {kind}")
    return records


def live_tables(manifest: bytes) -> dict[int, int]:
    """The table files the MANIFEST's last version uses: file number → size in bytes.

    :class:`StoreDamagedError` when the MANIFEST is not a LevelDB MANIFEST (an unknown tag, a field cut short).
    """
    live: dict[tuple[int, int], int] = {}
    for record in _records(manifest):
        r = _Reader(record)
        while not r.done():
            tag = r.varint()
            if tag == _COMPARATOR:
                r.slice()
            elif tag in (_LOG_NUMBER, _NEXT_FILE, _LAST_SEQUENCE, _PREV_LOG_NUMBER):
                r.varint()
            elif tag == _COMPACT_POINTER:
                r.varint()
                r.slice()
            elif tag == _DELETED_FILE:
                level, number = r.varint(), r.varint()
                live.pop((level, number), None)
            elif tag == _NEW_FILE:
                level, number, size = r.varint(), r.varint(), r.varint()
                r.slice()
                r.slice()
                live[(level, number)] = size
            else:
                raise StoreDamagedError(f"the MANIFEST has a version edit with an unknown field (tag {tag})")
    return {number: size for (_, number), size in live.items()}
