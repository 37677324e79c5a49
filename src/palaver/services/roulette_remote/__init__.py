"""Roulette across several processes: one owner holds all Roulette state, the others forward to it.

* ``single`` — one process: ``RouletteService`` directly, no RPC at all.
* ``owner`` — ``RouletteService`` plus a ``RouletteRpcServer`` answering the other processes.
* ``remote`` — a ``RemoteRoulette`` proxy forwarding every call to the owner over the broker.

``auto`` (the default of ``PALAVER_ROULETTE_ROLE``) is ``single`` with one worker, else ``owner`` in
worker 0 and ``remote`` in the others. See docs/architecture.md, "Roulette across processes".
"""

from __future__ import annotations

from typing import Literal, cast

from palaver.config import Settings
from palaver.ports import Broker, Clock
from palaver.services.roulette import RouletteService
from palaver.services.roulette_remote.proxy import RemoteRoulette
from palaver.services.roulette_remote.server import RouletteRpcServer
from palaver.services.roulette_remote.wire import RESET_EVENT, RouletteOwnerError, method_table

__all__ = [
    "RESET_EVENT",
    "RemoteRoulette",
    "RouletteOwnerError",
    "RouletteRpcServer",
    "distribute_roulette",
    "method_table",
    "roulette_role",
]

Role = Literal["single", "owner", "remote"]


def roulette_role(settings: Settings) -> Role:
    if settings.roulette_role != "auto":
        return settings.roulette_role
    if settings.workers <= 1:
        return "single"
    return "owner" if settings.worker_index == 0 else "remote"


def distribute_roulette(
    service: RouletteService, settings: Settings, *, broker: Broker, clock: Clock
) -> tuple[RouletteService, RouletteRpcServer | None]:
    """The Roulette this process uses, and the RPC server to run if it is the owner.

    A proxy has every public method of ``RouletteService`` (forwarded by name), hence the cast.
    """
    role = roulette_role(settings)
    if role == "single":
        return service, None
    if role == "owner":
        return service, RouletteRpcServer(service, broker=broker, clock=clock)
    proxy = RemoteRoulette(broker=broker, node=f"{settings.node_id}.{settings.worker_index}")
    return cast(RouletteService, proxy), None
