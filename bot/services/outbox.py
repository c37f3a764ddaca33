"""The outbox: proactive messages are stored first, then delivered by one sender.

This module is the only writer of outbox rows. Rows are claimed with
`FOR UPDATE SKIP LOCKED` on PostgreSQL (a no-op on SQLite, whose single writer
serialises claims anyway) and a conditional update, so two service instances
never send the same row. A claim that is never finished (the process died
mid-send) is taken back (`take_back`): another instance's after a lease (it may
still be alive until then), the worker's own from before its start at once (it
belongs to a previous life of the same process). A taken-back message may have
gone out, so the sender checks the chat's history before sending it again.

Rows go out by lane (`Lane`): an answer to a retailer never waits behind a
backlog of escalations or a broadcast. A notice about a pledge that has since
been met or restarted is dropped instead of sent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import and_, bindparam, case, exists, func, literal, or_, tuple_, type_coerce, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from bot import texts
from bot.db import Prepared
from bot.models import (
    BotMembership,
    Lane,
    OutboxMessage,
    OutboxStatus,
    Pledge,
    PledgeState,
    UTCDateTime,
    id_of,
    table_of,
)
from bot.services.errors import NotFound, ServiceError

CLAIM_LEASE = timedelta(minutes=2)
ENQUEUED = "outbox_enqueued"  # set in session.info: the runtime wakes the sender when the session commits


@dataclass
class HandOff:
    """Set in session.info by a runtime whose sender runs: replies queued in this unit of work are
    stored already claimed by that sender and given to it in memory once the unit commits, so an
    acknowledgement costs no claim (bench/intake_load.py). `room` bounds how many the sender holds,
    so each is sent well inside its claim's lease; past it they are queued as usual."""

    worker: str
    room: int
    rows: list[OutboxMessage] = field(default_factory=list)


HAND_OFF = "outbox_hand_off"
# kinds the sender may combine into one message
ACK, TOLD_PRIVATELY, ESCALATION = "ack", "told_privately", "escalation"
MENTIONING = (ACK, TOLD_PRIVATELY)  # combined as one group message mentioning each retailer
COMBINED_AT_MOST = 10  # rows in one combined message, so it stays readable
ROBOT = "robot"  # target_kind of a row to a WeCom or DingTalk group robot; target_id and bot_id: its channel
_OPTIONAL = ("kind", "pledge_id", "mention_user_id", "bot_id", "reply_to", "ticket_id", "dedupe_key",
             "via_group_id", "image_url", "delivery_id", "mentions")
_FIELDS = frozenset({"platform", "target_kind", "target_id", "text", "lane", *_OPTIONAL})


def _row(fields: dict[str, Any], now: datetime) -> dict[str, Any]:
    unknown = fields.keys() - _FIELDS
    if unknown:
        raise TypeError(f"not an outbox field: {', '.join(sorted(unknown))}")
    row = {name: None for name in _OPTIONAL} | fields
    row["lane"] = int(row.get("lane", Lane.REPLY))
    return row | {"status": OutboxStatus.PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now}


_INSERTS: dict[str, tuple[Any, Prepared]] = {}
_ID = table_of(OutboxMessage).c.id


def _inserts(session: Session) -> tuple[Any, Prepared]:
    """An INSERT that skips a row whose dedupe key is already stored, on either database, and the same
    returning the new row's id.

    Built once per dialect, values bound at execution: enqueue is on intake's hot path, and a statement
    built anew (with its values, or by `.returning()`) has its cache key worked out again every time
    (bench/intake_load.py).
    """
    name = session.get_bind().dialect.name
    if name not in _INSERTS:
        dialect = postgresql if name == "postgresql" else sqlite
        insert = dialect.insert(table_of(OutboxMessage)).on_conflict_do_nothing(index_elements=["dedupe_key"])
        _INSERTS[name] = (insert, Prepared(insert.returning(_ID)))
    return _INSERTS[name]


def enqueue(session: Session, *, now: datetime, platform: str, target_kind: str, target_id: str, text: str,
            lane: Lane = Lane.REPLY, kind: str | None = None, pledge_id: int | None = None,
            mention_user_id: str | None = None, bot_id: str | None = None, reply_to: str | None = None,
            ticket_id: int | None = None, dedupe_key: str | None = None, via_group_id: str | None = None,
            image_url: str | None = None, delivery_id: int | None = None, mentions: str | None = None
            ) -> OutboxMessage | None:
    """Queue one message; None (and nothing written) when its `dedupe_key` is already queued.

    `lane` defaults to REPLY because every caller that does not name one answers a retailer.
    `pledge_id`: the pledge whose running is the reason for the notice; it is dropped once that is met.
    `via_group_id`: a private message to someone met in that group (QQ's temporary chat, no friendship needed).
    """
    fields = {name: value for name, value in locals().items() if name in _FIELDS}
    row = _row(fields, now)
    hand_off: HandOff | None = session.info.get(HAND_OFF)
    handing = hand_off is not None and lane == Lane.REPLY and len(hand_off.rows) < hand_off.room
    if handing:
        assert hand_off is not None
        row |= {"status": OutboxStatus.SENDING, "claimed_by": hand_off.worker, "claimed_at": now}
    inserted = _inserts(session)[1].execute(session, row).fetchone()
    if inserted is None:
        return None
    message_id = inserted[0]
    # what was stored, not tracked by the session; not validated again (a tenth of the cost, on intake's path)
    message = OutboxMessage.model_construct(id=message_id, **row)
    if handing:
        assert hand_off is not None
        hand_off.rows.append(message)
    else:
        session.info[ENQUEUED] = True
    return message


def key_taken(session: Session, dedupe_key: str) -> bool:
    """Whether a message with this key was ever queued (sent or not)."""
    return session.exec(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)).first() is not None


def enqueue_many(session: Session, rows: list[dict[str, Any]], *, now: datetime) -> None:
    """Queue many messages in one statement; each row takes `enqueue`'s keywords. Keys already queued are skipped."""
    if not rows:
        return
    session.connection().execute(_inserts(session)[0], [_row(row, now) for row in rows])
    session.info[ENQUEUED] = True


def _due(now: datetime):
    return and_(col(OutboxMessage.status) == OutboxStatus.PENDING, col(OutboxMessage.next_attempt_at) <= now)


def _unfinished(now: datetime, worker: str, started_at: datetime | None):
    sending = col(OutboxMessage.status) == OutboxStatus.SENDING
    abandoned = and_(sending, col(OutboxMessage.claimed_at) < now - CLAIM_LEASE)
    if started_at is None:
        return abandoned
    own = and_(sending, col(OutboxMessage.claimed_by) == worker, col(OutboxMessage.claimed_at) < started_at)
    return or_(abandoned, own)


def _drop_stale(session: Session, scope) -> None:
    """Drop the rows in `scope` whose pledge is no longer running, or was restarted after they were queued."""
    of_row = col(Pledge.id) == OutboxMessage.pledge_id
    state = select(Pledge.state).where(of_row).scalar_subquery()
    session.connection().execute(  # Core: the ORM's bulk update bookkeeping cost more than the statement
        update(OutboxMessage)
        .where(scope, col(OutboxMessage.pledge_id).is_not(None),
               exists().where(of_row, or_(col(Pledge.state) != PledgeState.PENDING,
                                          col(Pledge.started_at) > OutboxMessage.created_at)))
        .values(status=OutboxStatus.DROPPED, claimed_by=None, claimed_at=None,
                last_error=case((state != PledgeState.PENDING, literal("dropped: its pledge was ") + state),
                                else_=literal("dropped: its pledge was restarted after it was queued"))))


def reachable(bots: list[str]) -> Any:
    """Rows one of these accounts may send: not for a group (or through a group) whose accounts are known
    and none of them among these, nor for a staff group robot not among them (no other robot may stand in).
    Such rows wait, unclaimed, so they hold up no other group's."""
    member = table_of(BotMembership)
    chat = case((col(OutboxMessage.target_kind) == "group", col(OutboxMessage.target_id)),
                else_=col(OutboxMessage.via_group_id))
    in_chat = and_(member.c.platform == col(OutboxMessage.platform), member.c.group_id == chat)
    robot_there = or_(col(OutboxMessage.target_kind) != ROBOT, col(OutboxMessage.bot_id).in_(bots))
    return and_(robot_there, or_(~exists().where(in_chat), exists().where(in_chat, member.c.bot_id.in_(bots))))


def claim_due(session: Session, *, now: datetime, platforms: list[str], worker: str,
              limit: int = 20, bots: list[str] | None = None) -> list[OutboxMessage]:
    """Claim up to `limit` due rows, lowest lane first, then oldest; stale notices are dropped, not claimed.
    With `bots` (the connected accounts), a group's rows are claimed only when one of its accounts is there.

    A claimed row the sender combines (an acknowledgement, a note that a quota went privately) brings the
    other rows of its kind due for its group, up to a combined message's worth: in a burst the oldest rows
    of a claim belong to many groups, and without them each group's would go one send at a time."""
    if not platforms:
        return []
    due = _due(now)
    _drop_stale(session, and_(due, col(OutboxMessage.platform).in_(platforms)))
    wanted = [due, col(OutboxMessage.platform).in_(platforms)]
    if bots is not None:
        wanted.append(reachable(bots))
    candidates = list(session.exec(
        select(OutboxMessage.id)
        .where(*wanted)
        .order_by(col(OutboxMessage.lane), col(OutboxMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ))
    if not candidates:
        return []
    candidates += _companions(session, candidates, due)
    # a few statements for the whole batch, not two a row: the sender claims on the store's one writer.
    # The update takes only rows still due, so a row another worker claimed meanwhile is not taken twice.
    session.connection().execute(
        update(OutboxMessage).where(col(OutboxMessage.id).in_(candidates), due)
        .values(status=OutboxStatus.SENDING, claimed_by=worker, claimed_at=now))
    return list(session.exec(
        select(OutboxMessage)
        .where(col(OutboxMessage.id).in_(candidates), OutboxMessage.claimed_by == worker,
               OutboxMessage.claimed_at == now, OutboxMessage.status == OutboxStatus.SENDING)
        .order_by(col(OutboxMessage.lane), col(OutboxMessage.id))
        .execution_options(populate_existing=True)))


@dataclass(frozen=True)
class TakenBack:
    """A claim that was never finished, now the caller's: its message may have gone out since `claimed_at`."""

    message: OutboxMessage
    claimed_by: str
    claimed_at: datetime


def take_back(session: Session, *, now: datetime, platforms: list[str], worker: str,
              started_at: datetime | None = None, limit: int = 20) -> list[TakenBack]:
    """Claim rows whose claim was never finished, lowest lane first, then oldest: any worker's once its lease
    ran out, and, when the worker says when it started, its own claims from before that (its previous life)
    at once. Each comes with the claim it had."""
    if not platforms or limit <= 0:
        return []
    unfinished = and_(_unfinished(now, worker, started_at), col(OutboxMessage.platform).in_(platforms))
    _drop_stale(session, unfinished)
    order = (col(OutboxMessage.lane), col(OutboxMessage.id))
    before = {message_id: (claimed_by, claimed_at) for message_id, claimed_by, claimed_at in session.exec(
        select(OutboxMessage.id, OutboxMessage.claimed_by, OutboxMessage.claimed_at)
        .where(unfinished).order_by(*order).limit(limit).with_for_update(skip_locked=True))}
    if not before:
        return []
    session.connection().execute(
        update(OutboxMessage).where(col(OutboxMessage.id).in_(before), unfinished)
        .values(claimed_by=worker, claimed_at=now))
    taken = session.exec(
        select(OutboxMessage)
        .where(col(OutboxMessage.id).in_(before), OutboxMessage.claimed_by == worker,
               OutboxMessage.claimed_at == now, OutboxMessage.status == OutboxStatus.SENDING)
        .order_by(*order).execution_options(populate_existing=True))
    taken_back = []
    for message in taken:
        claimed_by, claimed_at = before[id_of(message)]
        assert claimed_by is not None and claimed_at is not None, "a row in `sending` always carries its claim"
        taken_back.append(TakenBack(message, claimed_by, claimed_at))
    return taken_back


def cancel_pending(session: Session, *, delivery_ids: Any) -> int:
    """A broadcast withdrawn before it went out: its rows still waiting (for these deliveries, a
    subquery or a list of ids) are cancelled, never sent."""
    result = session.connection().execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.delivery_id).in_(delivery_ids), col(OutboxMessage.status) == OutboxStatus.PENDING)
        .values(status=OutboxStatus.CANCELLED))
    return result.rowcount


def still_wanted(session: Session, message_ids: list[int]) -> list[int]:
    """Just before a claimed row goes out: drop it if its pledge was met meanwhile; the ids left to send."""
    mine = and_(col(OutboxMessage.id).in_(message_ids), col(OutboxMessage.status) == OutboxStatus.SENDING)
    _drop_stale(session, mine)
    found = session.exec(select(col(OutboxMessage.id)).where(mine).order_by(col(OutboxMessage.id)))
    return cast(list[int], list(found))  # primary keys are never NULL


def compose(rows: list[OutboxMessage]) -> list[tuple[str | None, str]]:
    """What one send says, as lines: (the chat user to mention before it, or None; its text).

    One row is its own text; several acknowledgements become one message naming each retailer and their
    ticket; several notes that a quota went privately one line and the retailers mentioned; several
    escalation notices one digest.
    """
    if len(rows) == 1:
        return [(None, rows[0].text)]
    if all(row.kind == ACK for row in rows):
        return [(None, texts.acknowledgements_combined(len(rows)))] + [(row.mention_user_id, row.text)
                                                                       for row in rows]
    if all(row.kind == TOLD_PRIVATELY for row in rows):
        return [(None, texts.QUOTAS_SENT_PRIVATELY)] + [(row.mention_user_id, "") for row in rows]
    if all(row.kind == ESCALATION for row in rows):
        return [(None, texts.escalation_digest([row.text for row in rows]))]
    raise ValueError("only acknowledgements or escalation notices are sent together")


def _companions(session: Session, candidates: list[int | None], due: Any) -> list[int | None]:
    """The due rows that join the candidates' combinable group rows (`MENTIONING`), oldest first, up to
    COMBINED_AT_MOST a group and kind with the candidate."""
    combinable = and_(col(OutboxMessage.kind).in_(MENTIONING), col(OutboxMessage.target_kind) == "group")
    keys = session.execute(core_select(col(OutboxMessage.platform), col(OutboxMessage.target_id),
                                       col(OutboxMessage.kind), func.count())
                           .where(col(OutboxMessage.id).in_(candidates), combinable)
                           .group_by(col(OutboxMessage.platform), col(OutboxMessage.target_id),
                                     col(OutboxMessage.kind))).all()
    if not keys:
        return []
    room = {(platform, target, kind): COMBINED_AT_MOST - count for platform, target, kind, count in keys}
    place = func.row_number().over(partition_by=(col(OutboxMessage.platform), col(OutboxMessage.target_id),
                                                  col(OutboxMessage.kind)), order_by=col(OutboxMessage.id))
    waiting = (core_select(col(OutboxMessage.id), col(OutboxMessage.platform), col(OutboxMessage.target_id),
                           col(OutboxMessage.kind), place.label("place"))
               .where(due, combinable, col(OutboxMessage.id).not_in(candidates),
                      tuple_(col(OutboxMessage.platform), col(OutboxMessage.target_id), col(OutboxMessage.kind))
                      .in_(list(room)))
               .subquery())
    most = max(room.values())
    found = session.execute(core_select(waiting.c.id, waiting.c.platform, waiting.c.target_id, waiting.c.kind,
                                        waiting.c.place).where(waiting.c.place <= most)).all()
    return [row_id for row_id, platform, target, kind, at in found if at <= room[(platform, target, kind)]]


def mark_sent(session: Session, message_ids: Iterable[int], *, now: datetime, sent_message_id: str | None
              ) -> None:
    """The rows went out as one platform message (several when they were combined)."""
    record_sends(session, [Sent(list(message_ids), now, sent_message_id)])


@dataclass(frozen=True)
class Sent:
    """Rows that went out as one platform message, with its id if the platform gave one."""

    message_ids: list[int]
    at: datetime
    sent_message_id: str | None


def record_sends(session: Session, sends: list[Sent]) -> None:
    """Mark sent the rows of several sends in one statement (the sender records them as they go out)."""
    rows = [{"row_id": message_id, "sent_at": send.at, "sent_message_id": send.sent_message_id}
            for send in sends for message_id in send.message_ids]
    if rows:
        _MARK_SENT.execute_many(session, rows)


# Built once, values bound at execution: it runs for every send (bench/intake_load.py).
_MARK_SENT = Prepared(update(OutboxMessage)
                      .where(col(OutboxMessage.id) == bindparam("row_id"))
                      .values(status=OutboxStatus.SENT, sent_at=bindparam("sent_at"),
                              sent_message_id=bindparam("sent_message_id"), attempts=OutboxMessage.attempts + 1))


def mark_recovered(session: Session, message_ids: Iterable[int], *, now: datetime, sent_message_id: str,
                   note: str) -> None:
    """Taken-back rows the chat shows went out already: sent, and `last_error` says how that is known."""
    ids = list(message_ids)
    mark_sent(session, ids, now=now, sent_message_id=sent_message_id)
    session.connection().execute(
        update(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).values(last_error=note))


def mark_failed(session: Session, message_ids: Iterable[int], *, now: datetime, error: str,
                max_attempts: int) -> list[OutboxMessage]:
    """Back off exponentially; after `max_attempts` a row is a dead letter."""
    failed = []
    for message_id in message_ids:
        message = session.get_one(OutboxMessage, message_id)
        message.attempts += 1
        message.last_error = error[:2000]
        if message.attempts >= max_attempts:
            message.status = OutboxStatus.DEAD
        else:
            message.status = OutboxStatus.PENDING
            message.next_attempt_at = now + timedelta(seconds=min(600, 5 * 2 ** (message.attempts - 1)))
        message.claimed_by = message.claimed_at = None
        session.add(message)
        failed.append(message)
    return failed


def postpone(session: Session, message_ids: Iterable[int], *, until: datetime, error: str) -> None:
    """The channel refused for now (a robot's rate limit): due again at `until`, costing no attempt."""
    session.connection().execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(list(message_ids)), col(OutboxMessage.status) == OutboxStatus.SENDING)
        .values(status=OutboxStatus.PENDING, claimed_by=None, claimed_at=None, next_attempt_at=until,
                last_error=error[:2000]))


def release(session: Session, message_ids: Iterable[int]) -> None:
    """Give claims back untouched (no bot could take them, or a more urgent row came), costing no attempt."""
    session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(list(message_ids)), col(OutboxMessage.status) == OutboxStatus.SENDING)
        .values(status=OutboxStatus.PENDING, claimed_by=None, claimed_at=None))


def tickets_of_sent_message(session: Session, *, target_id: str, sent_message_id: str) -> list[int]:
    """The tickets a bot message in that chat was about (a combined acknowledgement names several)."""
    found = session.exec(
        select(col(OutboxMessage.ticket_id))
        .where(col(OutboxMessage.target_id) == target_id, col(OutboxMessage.sent_message_id) == sent_message_id,
               col(OutboxMessage.ticket_id).is_not(None))
        .order_by(col(OutboxMessage.id)))
    return [ticket_id for ticket_id in dict.fromkeys(found) if ticket_id is not None]


def list_messages(session: Session, *, status: str | None, offset: int, limit: int
                  ) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(col(OutboxMessage.id).desc()).offset(offset).limit(limit)
    if status:
        query = query.where(col(OutboxMessage.status) == status)
    return list(session.exec(query))


@dataclass(frozen=True)
class Queue:
    """What waits for one bot account in one lane: how many, since when, and how many died."""

    platform: str
    bot_id: str | None
    lane: int
    waiting: int  # pending or being sent
    oldest: datetime | None  # when the longest-waiting one was queued
    dead: int
    sends: int  # the messages the waiting rows make: a group's acknowledgements go out combined (`MENTIONING`)


def queues(session: Session) -> list[Queue]:
    """Queue depth per bot account and lane, for the people watching the outbox."""
    waiting = col(OutboxMessage.status).in_((OutboxStatus.PENDING, OutboxStatus.SENDING))
    rows = session.execute(
        core_select(col(OutboxMessage.platform), col(OutboxMessage.bot_id), col(OutboxMessage.lane),
                    func.sum(case((waiting, 1), else_=0)),
                    type_coerce(func.min(case((waiting, col(OutboxMessage.created_at)))), UTCDateTime),
                    func.sum(case((col(OutboxMessage.status) == OutboxStatus.DEAD, 1), else_=0)))
        .where(col(OutboxMessage.status).in_((OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.DEAD)))
        .group_by(col(OutboxMessage.platform), col(OutboxMessage.bot_id), col(OutboxMessage.lane))
        .order_by(col(OutboxMessage.platform), col(OutboxMessage.bot_id), col(OutboxMessage.lane)))
    # waiting acknowledgements (and 限量已私信 notes) per group and kind go out up to COMBINED_AT_MOST a message
    combinable = session.execute(
        core_select(col(OutboxMessage.platform), col(OutboxMessage.bot_id), col(OutboxMessage.lane), func.count())
        .where(waiting, col(OutboxMessage.kind).in_(MENTIONING), col(OutboxMessage.target_kind) == "group")
        .group_by(col(OutboxMessage.platform), col(OutboxMessage.bot_id), col(OutboxMessage.lane),
                  col(OutboxMessage.target_id), col(OutboxMessage.kind)))
    saved: dict[tuple[str, str | None, int], int] = {}  # rows that go out inside another's message
    for platform, bot_id, lane, count in combinable:
        messages = math.ceil(count / COMBINED_AT_MOST)
        saved[(platform, bot_id, lane)] = saved.get((platform, bot_id, lane), 0) + count - messages
    return [Queue(platform, bot_id, lane, int(waiting_count or 0), oldest, int(dead or 0),
                  int(waiting_count or 0) - saved.get((platform, bot_id, lane), 0))
            for platform, bot_id, lane, waiting_count, oldest, dead in rows]


def sends_per_minute(rate_per_minute: int, min_interval_seconds: float, jitter_seconds: float) -> float:
    """What one bot account sends in a minute at most: its rate limit, or fewer where the gap between two
    sends (the interval plus, on average, half the jitter) is the tighter rule."""
    gap = min_interval_seconds + jitter_seconds / 2
    return min(float(rate_per_minute), 60 / gap) if gap > 0 else float(rate_per_minute)


def minutes_to_send(found: list[Queue], per_minute: float) -> dict[tuple[str, str | None, int], float | None]:
    """Per queue, about how many minutes until its last waiting message goes out at its account's pace: a lane
    waits for itself and for the lanes sent before it on the same account. Combined acknowledgements count as
    the messages they make (`Queue.sends`); None where no account is named (any connected one sends)."""
    ahead: dict[tuple[str, str], int] = {}
    estimates: dict[tuple[str, str | None, int], float | None] = {}
    for queue in sorted(found, key=lambda q: (q.platform, q.bot_id or "", q.lane)):
        if queue.bot_id is None:
            estimates[(queue.platform, None, queue.lane)] = None
            continue
        account = (queue.platform, queue.bot_id)
        ahead[account] = ahead.get(account, 0) + queue.sends
        estimates[(queue.platform, queue.bot_id, queue.lane)] = ahead[account] / per_minute
    return estimates


def retry_dead(session: Session, message_id: int, *, now: datetime, staff_id: int) -> OutboxMessage:
    """A dead letter goes out again at once, with a fresh round of attempts (its last error is kept);
    the ticket's trail says who did it."""
    message = _get(session, message_id)
    if message.status != OutboxStatus.DEAD:
        raise ServiceError(f"消息 {message_id} 不是发送失败的消息，不能重发")
    message.status, message.attempts, message.next_attempt_at = OutboxStatus.PENDING, 0, now
    session.add(message)
    session.info[ENQUEUED] = True
    _on_trail(session, message, now, staff_id, "outbox_retried")
    return message


def cancel_unsent(session: Session, message_id: int, *, now: datetime, staff_id: int) -> OutboxMessage:
    """A message that has not gone out (waiting or dead) is not sent at all; the ticket's trail says who."""
    message = _get(session, message_id)
    if message.status not in (OutboxStatus.PENDING, OutboxStatus.DEAD):
        raise ServiceError(f"消息 {message_id} 已发出或正在发送，不能取消")
    message.status = OutboxStatus.CANCELLED
    session.add(message)
    _on_trail(session, message, now, staff_id, "outbox_cancelled")
    return message


def _on_trail(session: Session, message: OutboxMessage, now: datetime, staff_id: int, action: str) -> None:
    if message.ticket_id is None:
        return
    from bot.services import tickets

    tickets.event(session, message.ticket_id, now, "staff", str(staff_id), action, message_id=message.id,
                  to=f"{message.target_kind}:{message.target_id}")


def _get(session: Session, message_id: int) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(f"消息 {message_id} 不存在")
    return message
