"""The FastAPI application: routes, error mapping, metrics and the web client."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from palaver import __version__
from palaver.adapters.http import (
    routes_accounts,
    routes_admin,
    routes_messenger,
    routes_moderation,
    routes_roulette,
    routes_snapshots,
    routes_system,
)
from palaver.adapters.http.errors import install_error_handlers
from palaver.adapters.http.metrics import HttpMetrics
from palaver.adapters.http.static import WebClient
from palaver.ports import Broker, Storage
from palaver.services.accounts import AccountService
from palaver.services.ice import IceService
from palaver.services.messenger import Messenger
from palaver.services.moderation import ModerationService
from palaver.services.snapshots import SnapshotService


def create_http_app(
    *,
    accounts: AccountService,
    storage: Storage,
    broker: Broker,
    registry: CollectorRegistry,
    gateway_url: str,
    ice: IceService | None = None,
    messenger: Messenger | None = None,
    moderation: ModerationService | None = None,
    snapshots: SnapshotService | None = None,
) -> FastAPI:
    app = FastAPI(
        title="Palaver",
        version=__version__,
        description="Palaver's JSON API. Errors are `{\"error\": {\"code\", \"message\"}}`; ids are strings.",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.accounts = accounts
    app.state.storage = storage
    app.state.broker = broker
    app.state.registry = registry
    app.state.gateway_url = gateway_url
    if ice is not None:
        app.state.ice = ice
    if messenger is not None:
        app.state.messenger = messenger
    if moderation is not None:
        app.state.moderation = moderation
    if snapshots is not None:
        app.state.snapshots = snapshots
    install_error_handlers(app)
    app.include_router(routes_system.router)
    app.include_router(routes_accounts.router)
    app.include_router(routes_roulette.router)
    app.include_router(routes_messenger.router)
    for trust_and_safety in (routes_moderation.router, routes_admin.router, routes_snapshots.router):
        app.include_router(trust_and_safety, prefix="/api/v1")
        app.include_router(trust_and_safety, prefix="/api", include_in_schema=False)  # the contract's spelling
    app.mount("/", WebClient(), name="web")
    app.add_middleware(HttpMetrics, registry=registry)
    return app
