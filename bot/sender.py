"""The one sender: drains the outbox through whichever bot accounts are connected.

Each bot account is paced (a minimum interval plus jitter between sends) to
stay clear of QQ's risk control. A failed send backs off and, after the
configured number of attempts, becomes a dead letter visible in the API.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.models import OutboxMessage
from bot.runtime import Runtime
from bot.services import outbox

log = logging.getLogger(__name__)
SEND_TIMEOUT_SECONDS = 15


class Transport(Protocol):
    def connected(self) -> dict[str, str]:
        """Connected bot accounts: bot id -> platform."""

    async def send(self, bot_id: str, message: OutboxMessage) -> str | None:
        """Deliver one message; return the platform's message id if it gives one."""


class Sender:
    def __init__(self, runtime: Runtime, transport: Transport, *,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.runtime = runtime
        self.transport = transport
        self._monotonic, self._sleep = monotonic, sleep  # tests pace in virtual time
        self.worker = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self._next_send_at: dict[str, float] = {}

    async def _pace(self, bot_id: str) -> None:
        settings = self.runtime.settings
        wait = self._next_send_at.get(bot_id, 0.0) - self._monotonic()
        if wait > 0:
            await self._sleep(wait)
        gap = settings.outbox_min_interval_seconds
        if gap:
            gap += random.uniform(0, settings.outbox_jitter_seconds)
        self._next_send_at[bot_id] = self._monotonic() + gap

    def _pick_bot(self, message: OutboxMessage, bots: dict[str, str]) -> str | None:
        if message.bot_id in bots:
            return message.bot_id
        return next((bot for bot, platform in bots.items() if platform == message.platform), None)

    async def deliver_due(self) -> int:
        """One pass over what is due; returns how many messages went out."""
        bots = self.transport.connected()
        run, clock = self.runtime.run, self.runtime.clock
        batch = await run(outbox.claim_due, now=clock.now(), platforms=sorted(set(bots.values())),
                          worker=self.worker)
        sent = 0
        for message in batch:
            bot_id = self._pick_bot(message, self.transport.connected())
            if bot_id is None:
                await run(outbox.release, message.id)
                continue
            await self._pace(bot_id)
            try:
                message_id = await asyncio.wait_for(self.transport.send(bot_id, message),
                                                    SEND_TIMEOUT_SECONDS)
            except Exception as error:  # any failure is retried, never lost
                failed = await run(outbox.mark_failed, message.id, now=clock.now(),
                                   error=f"{type(error).__name__}: {error}",
                                   max_attempts=self.runtime.settings.outbox_max_attempts)
                log.warning("outbox %s failed (attempt %s, %s): %s", message.id, failed.attempts,
                            failed.status, error)
                continue
            await run(outbox.mark_sent, message.id, now=clock.now(), sent_message_id=message_id)
            sent += 1
        return sent

    async def run_forever(self) -> None:
        while True:
            try:
                await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox pass failed; trying again")
            await asyncio.sleep(self.runtime.settings.outbox_poll_seconds)
