"""The one sender: drains the outbox through whichever bot accounts are connected.

Each bot account is paced to stay clear of QQ's risk control, by two rules that
both hold for every send:
- a rate limit: at most `outbox_rate_per_minute` sends in any 60-second window,
  kept as a sliding window (pyrate-limiter) that also spreads those sends evenly,
  one every 60/limit seconds, so a long broadcast goes out at the limit instead
  of in bursts of a minute's worth;
- a gap: at least `outbox_min_interval_seconds` plus a random jitter after the
  account's previous send.
A failed send backs off and, after the configured number of attempts, becomes a
dead letter visible in the API.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

from pyrate_limiter import Duration, InMemoryBucket, Rate, RateItem

from bot.models import OutboxMessage
from bot.runtime import Runtime
from bot.services import outbox

log = logging.getLogger(__name__)
SEND_TIMEOUT_SECONDS = 15
CLAIM_BATCH = 20


def rate_bucket(per_minute: int) -> InMemoryBucket:
    """A sliding-window log for one bot account: at most `per_minute` items in any 60 s window.

    A second, short window of one item per 60/limit seconds spreads them evenly: a window of a
    whole minute alone would let a full minute's sends go back to back and then stall.
    """
    rates = [Rate(per_minute, Duration.MINUTE)]
    spacing_ms = math.ceil(Duration.MINUTE.value / per_minute) - 1  # pyrate admits 1 ms past its window
    if per_minute > 1 and spacing_ms >= 1:
        rates.insert(0, Rate(1, spacing_ms))
    return InMemoryBucket(rates)


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
        self._buckets: dict[str, tuple[int, InMemoryBucket]] = {}
        self.more_due = False  # the last pass worked through a full batch: more may be waiting

    def _bucket(self, bot_id: str) -> InMemoryBucket:
        limit = self.runtime.settings.outbox_rate_per_minute
        known = self._buckets.get(bot_id)
        if known is None or known[0] != limit:
            known = self._buckets[bot_id] = (limit, rate_bucket(limit))
        return known[1]

    def _now_ms(self) -> int:
        return math.floor(self._monotonic() * 1000 + 1e-6)  # tolerate float error on a whole ms

    async def _pace(self, bot_id: str) -> None:
        """Wait until this account may send: both its gap and its rate limit allow it."""
        settings = self.runtime.settings
        bucket = self._bucket(bot_id)
        while True:
            wait = self._next_send_at.get(bot_id, 0.0) - self._monotonic()
            if wait > 0:
                await self._sleep(wait)
            item = RateItem(bot_id, self._now_ms())
            bucket.leak(item.timestamp)  # forget sends older than the window
            if bucket.put(item):
                break
            ready_at = (item.timestamp + max(1, bucket.waiting(item))) / 1000
            await self._sleep(max(0.0, ready_at - self._monotonic()))
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
        # no more than one account sends in a minute, so a claim is done well inside its lease
        size = min(CLAIM_BATCH, self.runtime.settings.outbox_rate_per_minute)
        batch = await run(outbox.claim_due, now=clock.now(), platforms=sorted(set(bots.values())),
                          worker=self.worker, limit=size)
        sent = released = 0
        for message in batch:
            bot_id = self._pick_bot(message, self.transport.connected())
            if bot_id is None:
                await run(outbox.release, message.id)
                released += 1
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
        # a full batch that went out (or was tried) means more may be due; one given back
        # untouched (its bot went away) would only be claimed again at once
        self.more_due = len(batch) == size and released < len(batch)
        return sent

    async def run_forever(self) -> None:
        """Passes back to back while the outbox has more due; the poll interval only when idle."""
        while True:
            self.more_due = False
            try:
                await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox pass failed; trying again")
            if not self.more_due:
                await self._sleep(self.runtime.settings.outbox_poll_seconds)
