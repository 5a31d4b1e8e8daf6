"""App factory of the hall node::

    app = create_app(Settings(hall_dir=Path(".caseledger/halls/1")))

The lifespan starts the outbox sender, the indexer and the transfer worker, and stops them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from node_api.api.errors import install_error_handlers
from node_api.api.idempotency import IdempotencyMiddleware
from node_api.api.limits import BodyGuardMiddleware, SecurityHeadersMiddleware
from node_api.api.routes import (
    access,
    admin,
    audit,
    auth,
    batches,
    cases,
    catalogue,
    city,
    disputes,
    health,
    inbox,
    ops,
    transfer,
)
from node_api.core.config import Settings
from node_api.core.node import HallNode
from node_api.core.ops import LatencyMiddleware, make_registry
from node_api.pages import admin as admin_pages
from node_api.pages import city as city_pages
from node_api.pages import disputes as dispute_pages
from node_api.pages import documents
from node_api.pages import routes as pages

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *, node: HallNode | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        n = node or HallNode(settings)
        app.state.node = n
        n.start()
        app.state.audit = audit.start_scanner(n)
        try:
            yield
        finally:
            app.state.audit.stop()
            n.stop()

    app = FastAPI(
        title="CaseLedger hall node",
        summary="通办存证链: intake for any district, transfer, processing, result, delivery",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    pages.install_page_handlers(app)  # after: a LedgerError on a guarded page becomes an error page
    # per-app metrics registry (no global state): request latency + the node's state read at scrape time
    registry, latency = make_registry(lambda: getattr(app.state, "node", None))
    app.state.metrics_registry = registry
    app.add_middleware(IdempotencyMiddleware, node_getter=lambda: getattr(app.state, "node", None))
    app.add_middleware(BodyGuardMiddleware, max_bytes=settings.max_body_bytes, max_json_depth=settings.max_json_depth)
    app.add_middleware(LatencyMiddleware, histogram=latency)
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.trusted_proxy_list:  # outermost: the client address is settled before anything reads it
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    for r in (
        health.router,
        auth.router,
        catalogue.router,
        cases.router,
        inbox.router,
        transfer.router,
        batches.router,
        admin.router,
        access.router,
    ):
        app.include_router(r)
    app.include_router(disputes.router)
    app.include_router(city.router)  # 全市监管 from the chain alone
    app.include_router(audit.router)
    app.include_router(dispute_pages.router)  # 核验与争议处理 of a case, the printed dispute record
    app.include_router(city_pages.router)  # 全市监管 page
    app.include_router(admin_pages.router)  # 账号管理, 修改密码
    app.include_router(documents.router)  # printed documents (before the pages: /ui/cases/{serial}/print/…)
    app.include_router(documents.lookup_router)  # the applicant's public look-up
    app.include_router(pages.router)  # staff pages (templates/, static/): sign-in, intake, cases, verify, audit, health
    app.mount("/static", StaticFiles(directory=pages.HERE / "static"), name="static")
    app.include_router(ops.router)
    return app
