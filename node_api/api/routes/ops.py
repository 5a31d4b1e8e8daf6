"""Operations endpoints: Prometheus metrics and the hall backup.

``GET /metrics`` is open like ``/health``: it holds counts, ages and block numbers only (no serials,
names or personal data); restrict it to the monitoring network at the firewall or reverse proxy.
``POST /admin/backup`` needs a system administrator's session, or the node's local admin token
(``<data_dir>/admin.token``, new at every start) that ``caseledger backup`` reads from the hall dir.
``POST /admin/kek/rotate`` (``caseledger hall rotate-kek``) and ``GET /admin/kek`` need a security
administrator's session (key management is theirs, 三员分立) or the same admin token.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from ledger.errors import NotFoundError
from ledger.hall.backup import ADMIN_TOKEN_HEADER
from ledger.hall.kekrotation import KekStatus
from node_api.api.deps import NodeDep, _bearer, _cookie, get_session, get_staff, require_roles
from node_api.core.ops import check_admin_token

router = APIRouter(tags=["operations"])
log = logging.getLogger("caseledger.ops")


@router.get("/metrics", operation_id="metrics", response_class=PlainTextResponse)
def metrics(request: Request, node: NodeDep) -> PlainTextResponse:
    """Prometheus text format: outbox, anchoring, indexer lag, transfers, verifications, request latency."""
    if not node.settings.metrics_enabled:
        raise NotFoundError("metrics_disabled")
    registry: CollectorRegistry = request.app.state.metrics_registry
    return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _operator_or(role: str, who: str) -> Callable[..., Awaitable[str]]:
    """A dependency naming the caller: the local operator (the node's admin token) or a signed-in ``role``."""

    async def caller(
        request: Request,
        node: NodeDep,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        cookie: Annotated[str | None, Depends(_cookie)],
    ) -> str:
        if check_admin_token(node.admin_token, request.headers.get(ADMIN_TOKEN_HEADER)):
            return "operator:admin-token"
        session = await run_in_threadpool(get_session, request, node, bearer, cookie)
        staff = await require_roles(role)(get_staff(node, session))
        return staff.actor

    caller.__doc__ = who
    return caller


backup_caller = _operator_or(
    "sys_admin", "Who asks for the backup: the local operator (admin token) or a signed-in system administrator."
)
key_admin_caller = _operator_or(
    "security_admin",
    "Who manages the key-encryption key: the local operator (admin token) or a security administrator.",
)


@router.get("/admin/kek", operation_id="kek_status", response_model=KekStatus)
def kek_status(node: NodeDep, caller: Annotated[str, Depends(key_admin_caller)]) -> KekStatus:
    """The key-encryption key: current key id, the ids the file holds, cipher, data keys still to re-wrap."""
    return node.kek_rotation.status()


@router.post("/admin/kek/rotate", operation_id="rotate_kek", response_model=KekStatus)
def rotate_kek(node: NodeDep, caller: Annotated[str, Depends(key_admin_caller)]) -> KekStatus:
    """A new current key-encryption key; the data keys are re-wrapped in the background while the node serves
    (``pending`` counts down to 0). Older keys stay in the file: backups' TOTP secrets are sealed under them."""
    kid = node.kek_rotation.rotate()
    node.record_access(caller, "rotate_kek", "", f"new key-encryption key {kid}")
    log.info("key-encryption key rotated by %s: %s", caller, kid)
    return node.kek_rotation.status()


@router.post(
    "/admin/backup",
    operation_id="backup_store",
    response_class=FileResponse,
    responses={200: {"content": {"application/gzip": {}}, "description": "the backup archive (.tar.gz)"}},
)
def backup(node: NodeDep, caller: Annotated[str, Depends(backup_caller)]) -> FileResponse:
    """A consistent snapshot of the hall's store plus its encrypted keystore(s) and hall.json, as a tar.gz.

    Taken while the node runs (one LevelDB snapshot); the keystore password and the key-encryption key
    are never included. The backup is an entry of the access trail (in the backup itself, too)."""
    tmp = Path(tempfile.mkdtemp(prefix="caseledger-backup-"))
    out = tmp / "backup.tar.gz"
    m = node.backup(out, by=caller)
    log.info("backup taken by %s", caller)
    name = f"hall-{m.hall_id}-{int(m.created_at)}.tar.gz"

    def cleanup() -> None:
        out.unlink(missing_ok=True)
        tmp.rmdir()

    return FileResponse(
        out,
        media_type="application/gzip",
        filename=name,
        background=BackgroundTask(cleanup),
        headers={"X-CaseLedger-Backup-Keys": str(m.keys)},
    )
