"""Export a case a hall holds as an evidence bundle (:mod:`ledger.bundle`, verified by :mod:`ledger.verify`).

    bundle = export_bundle(book, client, "TB20250101-001-00001", withhold={"applicant_id_number"})
    Path("case.json").write_text(bundle.dump())

Every anchored record the hall holds (its own and the verified ones received from the other hall)
is paired with its on-chain event by commitment.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from ledger.bundle import EvidenceBundle, HeldEvent, build_bundle
from ledger.cases import CaseBook
from ledger.chain import ChainClient
from ledger.errors import ConfigError
from ledger.materials import MaterialFile, MaterialSet
from ledger.records import SaltedRecord
from ledger.stages import Stage

__all__ = ["export_bundle"]


def export_bundle(
    book: CaseBook,
    client: ChainClient,
    serial: str,
    *,
    withhold: Iterable[str] = (),
    include_files: bool = False,
) -> EvidenceBundle:
    book.header(serial)  # NotFoundError when the hall does not hold the case
    dep = client.deployment
    if dep is None:
        raise ConfigError("no deployment loaded")
    events = {e.commitment.hex(): e for e in client.case_events(serial)}
    times: dict[int, int] = {}
    held: list[HeldEvent] = []
    for r in book.records(serial):
        ev = events.get(r["commitment"])
        if ev is None:
            continue
        if ev.block_number not in times:
            times[ev.block_number] = client.block_time(ev.block_number)
        # ledger.verify checks file proofs against MATERIALS records only (``materials_root``); the
        # RESULT record's ``documents_root`` still commits to the result document but is not exported.
        files = [MaterialFile(**f) for f in r.get("files", [])] if r["stage"] == Stage.MATERIALS.name else []
        mset = MaterialSet.new(files) if files else None
        contents = [book.store.get_blob(f.sha256) for f in files] if files and include_files else None
        rec = SaltedRecord(serial=serial, stage=Stage[r["stage"]], fields=r["fields"], salts=r["salts"])
        held.append(HeldEvent(record=rec, event=ev, time=times[ev.block_number], materials=mset, contents=contents,
                              withheld=r.get("withheld") or None))
    return build_bundle(
        serial=serial,
        chain_id=dep.chain_id,
        ledger=dep.ledger,
        registry=dep.registry,
        exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
        exported_by={"hall_id": book.hall.hall_id, "district": book.hall.district, "name": book.hall.name},
        held=held,
        withhold=withhold,
        include_files=include_files,
    )
