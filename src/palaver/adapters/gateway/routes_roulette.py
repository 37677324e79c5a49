"""Roulette methods over the gateway: the queue, WebRTC signalling and text chat within a pair.

Events come back on the caller's ``session:<id>`` topic (``roulette.matched``,
``roulette.partner_left``, ``roulette.signal``, ``roulette.chat``, ``roulette.banned``);
``roulette:stats`` (online and searching counts) is a public topic clients join with
``topics.subscribe``. ``roulette.report`` moves the caller on like ``roulette.next`` and files the
report with the moderation service; a banned person's ``roulette.start`` fails with ``banned``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from palaver.adapters.gateway.params import convert
from palaver.adapters.gateway.router import RequestRouter
from palaver.domain.links import may_send_links
from palaver.domain.moderation.reports import MAX_NOTE
from palaver.domain.roulette.criteria import MAX_INTERESTS, MAX_LANGUAGES
from palaver.domain.sessions import Principal
from palaver.errors import PalaverError
from palaver.ports import Clock
from palaver.services.accounts import AccountService
from palaver.services.moderation import ModerationService
from palaver.services.roulette import RouletteService

PairId = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
ShortText = Annotated[str, msgspec.Meta(max_length=64)]


class _Params(msgspec.Struct, forbid_unknown_fields=True):
    pass


class StartParams(_Params):
    languages: Annotated[list[ShortText], msgspec.Meta(max_length=MAX_LANGUAGES)] = []
    interests: Annotated[list[ShortText], msgspec.Meta(max_length=MAX_INTERESTS)] = []
    text_only: bool = False
    auto_next: bool = True


class PairParams(_Params):
    pair_id: PairId


class ReportParams(_Params):
    pair_id: PairId
    reason: Literal["nudity", "harassment", "spam", "underage", "other"]
    note: Annotated[str, msgspec.Meta(max_length=MAX_NOTE)] = ""


class SignalParams(_Params):
    pair_id: PairId
    kind: Literal["offer", "answer", "candidate", "bye"]
    payload: dict[str, Any]


class ChatParams(_Params):
    pair_id: PairId
    text: Annotated[str, msgspec.Meta(max_length=4096)]


def register_roulette_methods(
    router: RequestRouter,
    roulette: RouletteService,
    accounts: AccountService,
    moderation: ModerationService,
    *,
    clock: Clock | None = None,
    new_guest_link_block_seconds: float = 0.0,  # guests younger than this may not send links in chat
) -> None:
    async def start(principal: Principal, params: dict[str, Any]) -> dict[str, Any]:
        body = convert(params, StartParams)
        await moderation.ensure_not_banned(principal)
        user = await accounts.me(principal)
        links = clock is None or may_send_links(user, now=clock.now(), guest_block_seconds=new_guest_link_block_seconds)
        reply = await roulette.start(
            principal,
            languages=body.languages,
            interests=body.interests,
            text_only=body.text_only,
            auto_next=body.auto_next,
            display_name=user.display_name,
            may_send_links=links,
        )
        try:  # a ban committed while we were starting expelled nobody: this session was not in yet
            await moderation.ensure_not_banned(principal)
        except PalaverError:
            await roulette.stop(principal)
            raise
        return reply

    async def next_partner(principal: Principal, params: dict[str, Any]) -> dict[str, Any]:
        return await roulette.next(principal)

    async def stop(principal: Principal, params: dict[str, Any]) -> dict[str, Any]:
        return await roulette.stop(principal)

    async def status(principal: Principal, params: dict[str, Any]) -> dict[str, Any]:
        return await roulette.status(principal)

    async def signal(principal: Principal, params: dict[str, Any]) -> dict[str, Any]:
        body = convert(params, SignalParams)
        await roulette.relay_signal(principal, pair_id=body.pair_id, kind=body.kind, payload=body.payload)
        return {}

    async def chat(principal: Principal, params: dict[str, Any]) -> dict[str, Any]:
        body = convert(params, ChatParams)
        await roulette.send_chat(principal, pair_id=body.pair_id, text=body.text)
        return {}

    async def block(principal: Principal, params: dict[str, Any]) -> dict[str, Any]:
        body = convert(params, PairParams)
        return await roulette.block(principal, pair_id=body.pair_id)

    async def report(principal: Principal, params: dict[str, Any]) -> dict[str, Any]:
        body = convert(params, ReportParams)
        target, reply = await roulette.report_target(principal, pair_id=body.pair_id)
        await moderation.report(
            principal, reported_user_id=target, reason=body.reason, note=body.note, pair_id=body.pair_id
        )
        return reply

    async def stats(principal: Principal, params: dict[str, Any]) -> dict[str, int]:
        return roulette.stats()

    router.register("roulette.start", start)
    router.register("roulette.next", next_partner)
    router.register("roulette.stop", stop)
    router.register("roulette.status", status)
    router.register("roulette.signal", signal)
    router.register("roulette.chat", chat)
    router.register("roulette.block", block)
    router.register("roulette.report", report)
    router.register("roulette.stats", stats, inline=True)
