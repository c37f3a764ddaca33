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

Rows are claimed lowest lane first. When something is queued while the sender
waits for an account's turn, it gives the turn and its claim back and claims
again, so a reply queued behind a backlog goes out at the next turn. Under a
burst, acknowledgements for one group become one message and escalation
notices for one recipient one digest: the rate limit counts each as one send.

Claims a dead process never finished are taken back first (`outbox.take_back`;
this process's own from before its start at once, since its worker name is
stable across restarts). Such a message may already have gone out, so the
transport is asked for a copy in the chat first (`Transport.find_sent`): if
there is one, the rows are marked sent with its id instead of being sent twice.
Where the chat cannot be checked (a private chat, a platform without history,
a failed look-up) they are sent again: a duplicate is better than a loss.

With several accounts, a group message goes only through an account in the group
(`accounts.members_of`): the account it names if that one is connected, else the
least busy connected member. When none of the group's accounts is connected it is
not claimed at all (`outbox.claim_due(bots=...)`) and waits, shown on /healthz,
until one connects. A group nothing is known of keeps the old rule: the account named, else any
connected account of the platform. A private message (unless it goes through a
group) goes through the account named, else one chosen by the person
(`spread`): the same account for the same person, people spread over accounts.

WeCom and DingTalk group robots (`bot/webhooks.py`) are accounts of their own
platform, always connected, each paced to its own limit (20 a minute) without
QQ's gap; a robot that answers "too many" gets the rows back a minute later,
costing no attempt.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import random
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from pyrate_limiter import Duration, InMemoryBucket, Rate, RateItem
from sqlmodel import Session

from bot import metrics
from bot.logs import log_fields
from bot.models import Lane, OutboxMessage, id_of
from bot.runtime import Runtime
from bot.services import accounts, outbox
from bot.webhooks import RATE_LIMIT_PAUSE_SECONDS, RateLimited, Webhook, WebhookTransport

log = logging.getLogger(__name__)
SEND_TIMEOUT_SECONDS = 15
CLAIM_BATCH = 20
DIGEST_WINDOW = timedelta(minutes=1)  # escalation notices queued this close together share a digest


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

    async def send(self, bot_id: str, rows: list[OutboxMessage]) -> str | None:
        """Deliver the rows as one message (`outbox.compose`); return the platform's message id if it gives one."""

    async def find_sent(self, bot_id: str, rows: list[OutboxMessage], *, since: datetime) -> str | None:
        """The platform's id of a message this account posted no earlier than `since` with what sending the
        rows would post; None when there is none or the chat cannot be checked. May raise (then they are sent)."""


def spread(person: str, bots: list[str]) -> str:
    """The account a private message to this person goes through: the same one for the same person
    while it is connected (they may have befriended it), people spread evenly over the accounts, and
    only that account's people move when it goes away (rendezvous hashing)."""
    return max(bots, key=lambda bot: (zlib.crc32(f"{bot}/{person}".encode()), bot))


def _chat_of(message: OutboxMessage) -> tuple[str, str] | None:
    """The group a message goes to, or through (a private message to a group member): only an account in
    it can deliver the message."""
    if message.target_kind == "group":
        return message.platform, message.target_id
    if message.via_group_id:
        return message.platform, message.via_group_id
    return None


def _joins(send: list[OutboxMessage], message: OutboxMessage) -> bool:
    if len(send) >= outbox.COMBINED_AT_MOST:
        return False
    if message.kind in outbox.MENTIONING:
        return True
    return abs(message.created_at - send[0].created_at) <= DIGEST_WINDOW


def combine(batch: list[OutboxMessage], bot_of: Callable[[OutboxMessage], str | None]
            ) -> list[tuple[str | None, list[OutboxMessage]]]:
    """A claim as sends, (account, rows), in claim order.

    Acknowledgements for one group through one account become one send (so do the notes that a quota
    went privately), and so do escalation notices for one recipient queued within a minute of each other;
    everything else goes alone.
    """
    sends: list[tuple[str | None, list[OutboxMessage]]] = []
    open_sends: dict[tuple, list[OutboxMessage]] = {}
    for message in batch:
        bot_id = bot_of(message)
        combinable = (message.kind == outbox.ESCALATION
                      or (message.kind in outbox.MENTIONING and message.target_kind == "group"))
        if bot_id is None or not combinable:
            sends.append((bot_id, [message]))
            continue
        key = (bot_id, message.kind, message.target_kind, message.target_id)
        send = open_sends.get(key)
        if send is not None and _joins(send, message):
            send.append(message)
            continue
        open_sends[key] = [message]
        sends.append((bot_id, open_sends[key]))
    return sends


@dataclass
class _Turn:
    """An account's permission to send now, which can be given back unused."""

    item: RateItem
    waited: bool  # the account was not free at once
    previous_next_send_at: float | None


class Sender:
    def __init__(self, runtime: Runtime, transport: Transport, *,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 robots: WebhookTransport | None = None) -> None:
        self.runtime = runtime
        self.transport = transport
        self.robots = robots  # WeCom and DingTalk robots: accounts of their own kind, always there
        self._monotonic, self._sleep = monotonic, sleep  # tests pace in virtual time
        self.worker = runtime.settings.worker  # the same after a restart: own dead claims are known
        self.started_at = runtime.clock.now()  # own claims older than this are a previous life's
        self._next_send_at: dict[str, float] = {}
        self._buckets: dict[str, tuple[int, InMemoryBucket]] = {}
        self.more_due = False  # the last pass worked through a full batch: more may be waiting
        self._next_claim_at = 0.0  # the store is asked at least once a poll interval
        self._store_has_more = False  # the last pass left due rows in the store (a full claim, or given back)
        self._unrecorded: list[tuple[outbox.Sent, asyncio.Future[None]]] = []  # sent, not yet marked so
        self._recorder: asyncio.Future[None] | None = None
        self._members: dict[tuple[str, str], set[str]] = {}  # (platform, group) -> its accounts, as last read

    def _connected(self) -> dict[str, str]:
        bots = self.transport.connected()
        return bots | self.robots.connected() if self.robots is not None else bots

    def _robot(self, bot_id: str) -> Webhook | None:
        return self.robots.hooks.get(bot_id) if self.robots is not None else None

    def _via(self, bot_id: str) -> Transport:
        return self.robots if self.robots is not None and bot_id in self.robots.hooks else self.transport

    def _bucket(self, bot_id: str) -> InMemoryBucket:
        robot = self._robot(bot_id)
        limit = robot.rate_per_minute if robot else self.runtime.settings.outbox_rate_per_minute
        known = self._buckets.get(bot_id)
        if known is None or known[0] != limit:
            known = self._buckets[bot_id] = (limit, rate_bucket(limit))
        return known[1]

    def _now_ms(self) -> int:
        return math.floor(self._monotonic() * 1000 + 1e-6)  # tolerate float error on a whole ms

    async def _pace(self, bot_id: str) -> _Turn:
        """Wait until this account may send: both its gap and its rate limit allow it."""
        settings = self.runtime.settings
        bucket = self._bucket(bot_id)
        waited = False
        while True:
            wait = self._next_send_at.get(bot_id, 0.0) - self._monotonic()
            if wait > 0:
                waited = True
                await self._sleep(wait)
            item = RateItem(bot_id, self._now_ms())
            bucket.leak(item.timestamp)  # forget sends older than the window
            if bucket.put(item):
                break
            waited = True
            waiting = bucket.waiting(item)
            assert isinstance(waiting, int)  # an in-memory bucket answers at once, never with an awaitable
            ready_at = (item.timestamp + max(1, waiting)) / 1000
            await self._sleep(max(0.0, ready_at - self._monotonic()))
        gap = 0.0 if self._robot(bot_id) else settings.outbox_min_interval_seconds  # QQ's risk control only
        if gap:
            gap += random.uniform(0, settings.outbox_jitter_seconds)
        turn = _Turn(item, waited, self._next_send_at.get(bot_id))
        self._next_send_at[bot_id] = self._monotonic() + gap
        return turn

    def _give_back(self, bot_id: str, turn: _Turn) -> None:
        """Undo a turn that was not used, so the account's next send may take it at once."""
        self._bucket(bot_id).items.remove(turn.item)
        if turn.previous_next_send_at is None:
            del self._next_send_at[bot_id]
        else:
            self._next_send_at[bot_id] = turn.previous_next_send_at

    def _pick_bot(self, message: OutboxMessage, bots: dict[str, str]) -> str | None:
        chat = _chat_of(message)
        members = self._members.get(chat) if chat else None
        if members:  # only an account in the group; none connected: the message waits
            ready = [bot for bot in sorted(members) if bots.get(bot) == message.platform]
            if message.bot_id in ready:
                return message.bot_id
            return min(ready, key=lambda bot: self._next_send_at.get(bot, 0.0), default=None)
        if message.bot_id in bots or message.target_kind == outbox.ROBOT:  # a robot only through itself
            return message.bot_id if message.bot_id in bots else None
        able = [bot for bot, platform in bots.items() if platform == message.platform]
        if message.target_kind == "private" and len(able) > 1:
            return spread(message.target_id, able)
        return able[0] if able else None

    async def _read_members(self, rows: list[OutboxMessage], *, again: bool) -> None:
        """The accounts of the groups these rows go to: all read `again` (the store was asked this pass),
        else only those not read before (a pass of replies handed over needs no query)."""
        chats = {chat for row in rows if (chat := _chat_of(row))}
        if not again:
            chats -= set(self._members)
        if not chats:
            return
        try:
            found = await self.runtime.run_first(accounts.members_of, chats)
        except Exception as error:  # the claim went through a moment ago: this pass goes on with what it knew
            log.warning("could not read the groups' accounts (%s: %s)", type(error).__name__, error)
            return
        for chat in chats:
            self._members[chat] = found.get(chat, set())

    async def deliver_due(self) -> int:
        """One pass over what is due; returns how many outbox rows went out."""
        bots = self._connected()
        run, clock = self.runtime.run_first, self.runtime.clock
        woken = self.runtime.outbox_wakeup()
        woken.clear()  # whatever is committed by now, this claim sees
        handed = self.runtime.take_handed_off()
        # no more than one account sends in a minute, so a claim is done well inside its lease
        size = min(CLAIM_BATCH, self.runtime.settings.outbox_rate_per_minute)
        platforms = sorted(set(bots.values()))
        taken: list[outbox.TakenBack] = []
        fresh: list[OutboxMessage] = []
        # the store is asked when something was queued there, or at each poll; not for each hand-off
        asked = False
        if (not handed or self.runtime.take_queued() or self._store_has_more
                or self._monotonic() >= self._next_claim_at):
            self._next_claim_at = self._monotonic() + self.runtime.settings.outbox_poll_seconds
            asked = True
            try:
                taken, fresh = await run(self._claim, now=clock.now(), platforms=platforms, bots=sorted(bots),
                                         limit=size)
            except BaseException:
                self.runtime.hand_back(handed)  # the next pass sends them, not the lease's end
                raise
        # replies, the first lane: with those committed in the claim's own batch (an intake beside it, which queued a
        # staff notice this claim took) going out now, not after the notice
        handed += self.runtime.take_handed_off()
        fresh = handed + fresh
        batch = [claim.message for claim in taken] + fresh
        await self._read_members(batch, again=asked)
        pick = functools.partial(self._pick_bot, bots=bots)
        # taken-back rows apart: combined as before, they can match the copy a dead process sent
        unsent, sent = await self._settle_taken_back(taken, combine([claim.message for claim in taken], pick))
        sends = unsent + combine(fresh, pick)
        # each account sends its share in order at its own pace; accounts do not wait for one another
        by_account: dict[str | None, list[tuple[str | None, list[OutboxMessage]]]] = {}
        for bot_id, rows in sends:
            by_account.setdefault(bot_id, []).append((bot_id, rows))
        outcomes = await asyncio.gather(*(self._send_in_order(share, woken) for share in by_account.values()))
        self.more_due = any(preempted for _, _, preempted in outcomes) or (
            len(batch) - len(handed) >= size and sum(released for _, released, _ in outcomes) < len(batch))
        self._store_has_more = self.more_due or any(released for _, released, _ in outcomes)
        return sent + sum(delivered for delivered, _, _ in outcomes)

    def _claim(self, session: Session, *, now: datetime, platforms: list[str], bots: list[str], limit: int
               ) -> tuple[list[outbox.TakenBack], list[OutboxMessage]]:
        """Claims that were never finished, then what is due and can go through these accounts, in one unit
        of work."""
        taken = outbox.take_back(session, now=now, platforms=platforms, worker=self.worker,
                                 started_at=self.started_at, limit=limit)
        return taken, outbox.claim_due(session, now=now, platforms=platforms, worker=self.worker,
                                       limit=limit - len(taken), bots=bots)

    async def _send_in_order(self, sends: list[tuple[str | None, list[OutboxMessage]]], woken: asyncio.Event
                             ) -> tuple[int, int, bool]:
        """One account's sends, one after another at its pace: (rows sent, rows released, gave way).

        A send is recorded while the next one goes out, not before it: the sends wait on the account's
        pace, not on the store's writer; all are recorded before this returns.
        """
        records: list[asyncio.Future[None]] = []
        outcome = await self._send_share(sends, woken, records)
        await asyncio.gather(*records)  # were this pass to fail first, the writer still records them
        return outcome

    async def _send_share(self, sends: list[tuple[str | None, list[OutboxMessage]]], woken: asyncio.Event,
                          records: list[asyncio.Future[None]]) -> tuple[int, int, bool]:
        run, clock = self.runtime.run_first, self.runtime.clock
        sent = released = 0
        for index, (bot_id, rows) in enumerate(sends):
            connected = self._connected()
            if bot_id not in connected:
                bot_id = self._pick_bot(rows[0], connected)
            if bot_id is None:
                await run(outbox.release, [id_of(row) for row in rows])
                released += len(rows)
                continue
            turn = await self._pace(bot_id)
            # queued while we waited: it may be more urgent than these, unless these are replies already
            # (under a burst of questions every pass is woken, and nothing outranks an answer)
            if turn.waited and woken.is_set() and any(row.lane > Lane.REPLY for _, later in sends[index:]
                                                      for row in later):
                self._give_back(bot_id, turn)
                await run(outbox.release, [id_of(row) for _, later in sends[index:] for row in later])
                return sent, released, True
            if any(row.pledge_id for row in rows):  # its pledge may have been met since the claim
                wanted = set(await run(outbox.still_wanted, [id_of(row) for row in rows]))
                rows = [row for row in rows if row.id in wanted]
                if not rows:
                    self._give_back(bot_id, turn)
                    continue
            ids = [id_of(row) for row in rows]
            try:
                # not wait_for: on Python 3.11 it swallows a cancellation that lands as the send completes,
                # and the sender would outlive the shutdown that cancelled it
                async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                    message_id = await self._via(bot_id).send(bot_id, rows)
            except RateLimited as error:  # the robot's own limit: later, costing no attempt
                until = clock.now() + timedelta(seconds=RATE_LIMIT_PAUSE_SECONDS)
                await run(outbox.postpone, ids, until=until, error=str(error))
                log.warning("outbox %s: %s; again at %s", ids, error, until)
                continue
            except Exception as error:  # any failure is retried, never lost
                failed = await run(outbox.mark_failed, ids, now=clock.now(),
                                   error=f"{type(error).__name__}: {error}",
                                   max_attempts=self.runtime.settings.outbox_max_attempts)
                for row in failed:
                    log.warning("outbox %s failed (attempt %s, %s): %s", row.id, row.attempts, row.status, error,
                                extra=log_fields(outbox_id=row.id, ticket_id=row.ticket_id, pledge_id=row.pledge_id))
                continue
            records.append(self._record(outbox.Sent(ids, clock.now(), message_id)))
            self.runtime.last_sends[bot_id] = clock.now()
            metrics.sent(bot_id)  # an in-memory increment (bot/metrics.py)
            sent += len(rows)
        return sent, released, False

    def _record(self, send: outbox.Sent) -> asyncio.Future[None]:
        """Mark the send's rows sent: with whatever others went out meanwhile, in one unit of work."""
        recorded = asyncio.get_running_loop().create_future()
        self._unrecorded.append((send, recorded))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.ensure_future(self._record_all())
        return recorded

    async def recorded(self) -> None:
        """Every send that went out is recorded: the recording outlives a cancelled pass (shutdown waits for it,
        so a restart need not look for these messages in the groups' history)."""
        if self._recorder is not None:
            await asyncio.gather(self._recorder, return_exceptions=True)

    async def _record_all(self) -> None:
        while self._unrecorded:
            batch, self._unrecorded = self._unrecorded, []
            try:
                await self.runtime.run_first(outbox.record_sends, [send for send, _ in batch])
            except Exception as error:
                for _, recorded in batch:
                    if not recorded.done():  # its pass may have been cancelled meanwhile
                        recorded.set_exception(error)
            else:
                for _, recorded in batch:
                    if not recorded.done():
                        recorded.set_result(None)

    async def _settle_taken_back(self, taken: list[outbox.TakenBack],
                                 sends: list[tuple[str | None, list[OutboxMessage]]]
                                 ) -> tuple[list[tuple[str | None, list[OutboxMessage]]], int]:
        """Mark sent the taken-back sends the chat shows went out; returns the rest and how many rows were marked.

        The look-up is not a send: it takes no turn of the account's rate limit.
        """
        claims = {claim.message.id: claim for claim in taken}
        unsent, found = [], 0
        for bot_id, rows in sends:
            ids = [id_of(row) for row in rows]
            copy = None
            if bot_id is not None:
                since = min(claims[row.id].claimed_at for row in rows)
                try:
                    async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                        copy = await self._via(bot_id).find_sent(bot_id, rows, since=since)
                except Exception as error:  # cannot tell: sending again loses nothing
                    log.warning("outbox %s: cannot check whether it went out (%s: %s)", ids,
                                type(error).__name__, error)
            if copy is None:
                log.warning("outbox %s: claim of %s taken back, no copy found in the chat: sending it again",
                            ids, claims[ids[0]].claimed_by)
                unsent.append((bot_id, rows))
                continue
            taken_from = claims[ids[0]].claimed_by
            await self.runtime.run_first(outbox.mark_recovered, ids, now=self.runtime.clock.now(), sent_message_id=copy,
                                   note=f"recovered: the claim of {taken_from} was never finished, and the chat "
                                        f"shows it went out as message {copy}; not sent again")
            log.warning("outbox %s: found as message %s after the claim of %s was taken back; not sent again",
                        ids, copy, taken_from)
            found += len(rows)
        return unsent, found

    async def _idle(self) -> None:
        """Wait the poll interval, or less: until a unit of work queues something."""
        waits = [asyncio.ensure_future(self._sleep(self.runtime.settings.outbox_poll_seconds)),
                 asyncio.ensure_future(self.runtime.outbox_wakeup().wait())]
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        for finished in done:
            finished.result()

    async def run_forever(self) -> None:
        """Passes back to back while the outbox has more due; when idle, until something is queued."""
        self.runtime.sender_running = True
        try:
            await self._pass_forever()
        finally:
            self.runtime.sender_running = False
            # what this sender held goes back to the store, claimed by this worker, which takes its own
            # claims back at its next start
            self.runtime.take_handed_off()

    async def _pass_forever(self) -> None:
        while True:
            self.more_due = False
            try:
                await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox pass failed; trying again")
            if not self.more_due:
                await self._idle()
