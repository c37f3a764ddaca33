"""Tickets: the one writer of tickets, their messages and their events, and of the group lines the bot left alone.

Intake decides what a chat message is; the pledge, notice and API code call
these functions to record what happened. Nothing here sends anything.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import yaml
from sqlalchemy import ColumnElement, bindparam, delete, insert, or_, update
from sqlmodel import Session, col, func, select

from bot.db import Prepared
from bot.models import (
    AuthorKind,
    ChatGroup,
    Pledge,
    Ticket,
    TicketEvent,
    TicketMessage,
    TicketStatus,
    UnticketedLine,
    UTCDateTime,
    id_of,
    table_of,
)
from bot.services import outbox
from bot.services.errors import NotFound, ServiceError
from bot.services.guard import mask_personal_data

MAX_STORED_TEXT = 20_000  # QQ caps a message near 5,000; anything longer is hostile

# Intake is the hot path (bench/intake_load.py): its statements are built once, with bind
# parameters, and run on the driver's cursor; building them per message cost more than the
# database did, and so did SQLAlchemy's execution of them.
_INSERT_TICKET = Prepared(insert(table_of(Ticket)).returning(table_of(Ticket).c.id))
_TOUCH_TICKET = Prepared(update(table_of(Ticket)).where(table_of(Ticket).c.id == bindparam("ticket_pk")))
_INSERT_MESSAGE = Prepared(insert(table_of(TicketMessage)))
_INSERT_EVENT = insert(table_of(TicketEvent))
_INSERT_EVENTS = Prepared(_INSERT_EVENT)
_TICKETS = table_of(Ticket).c
_LATEST_OF_SENDER = (  # Core, for the id alone: intake asks this of every retailer message
    select(_TICKETS.id)
    .where(_TICKETS.platform == bindparam("platform"), _TICKETS.sender_user_id == bindparam("user_id"),
           _TICKETS.last_message_at >= bindparam("since", type_=UTCDateTime))
    .order_by(_TICKETS.last_message_at.desc()).limit(1))
_LATEST_IN_GROUP = Prepared(_LATEST_OF_SENDER.where(_TICKETS.chat_group_id == bindparam("chat_group_id")))
_LATEST_IN_PRIVATE = Prepared(_LATEST_OF_SENDER.where(_TICKETS.chat_group_id.is_(None)))


def event(session: Session, ticket_id: int, now: datetime, actor_kind: str, actor_id: str | None,
          action: str, **detail: Any) -> None:
    """Append one entry to the ticket's trail."""
    _INSERT_EVENTS.execute(session, _event_row(ticket_id, now, actor_kind, actor_id, action, detail))


def _event_row(ticket_id: int, now: datetime, actor_kind: str, actor_id: str | None, action: str,
               detail: dict[str, Any]) -> dict[str, Any]:
    return {"ticket_id": ticket_id, "at": now, "actor_kind": actor_kind, "actor_id": actor_id, "action": action,
            "detail": detail}


def events(session: Session, rows: list[dict[str, Any]]) -> None:
    """Several entries at once (the sweep's), each a dict of TicketEvent's columns."""
    if rows:
        session.connection().execute(_INSERT_EVENT, rows)


def add_message(session: Session, ticket_id: int, chat_group_id: int | None, message_id: str | None,
                author_kind: str, author_id: str | None, text: str, now: datetime) -> None:
    _INSERT_MESSAGE.execute(session, {
        "ticket_id": ticket_id, "chat_group_id": chat_group_id, "message_id": message_id,
        "author_kind": author_kind, "author_id": author_id, "text": text[:MAX_STORED_TEXT],
        "created_at": now})


@dataclass(frozen=True)
class Request:
    """A retailer's message that opens a ticket."""

    platform: str
    chat_group_id: int | None
    sender_user_id: str
    sender_name: str | None
    retailer_id: int | None
    category: str
    trading: bool
    text: str
    message_id: str | None


@dataclass(frozen=True)
class Answered:
    """How the bot answered a request as it came: from a knowledge entry (`entry_id`, the match's `score`), or
    from other data (supply notices, launches; `note` says what, in words)."""

    entry_id: str | None = None
    score: float | None = None
    note: str | None = None

    def event(self) -> tuple[str, dict[str, Any]]:
        if self.entry_id is not None:
            return "answered_from_knowledge", {"entry": self.entry_id, "score": self.score}
        return "answered_from_data", {"note": self.note}


def open_ticket(session: Session, request: Request, *, now: datetime, answered: Answered | None = None) -> int:
    """A new ticket with the retailer's message and, when the bot answered it at once, how (the trail's two
    entries in one call to the driver)."""
    ticket_id = _INSERT_TICKET.execute(session, {
        "platform": request.platform, "chat_group_id": request.chat_group_id,
        "retailer_id": request.retailer_id, "sender_user_id": request.sender_user_id,
        "sender_name": (request.sender_name or "")[:64] or None, "category": request.category,
        "status": TicketStatus.ANSWERED if answered else TicketStatus.OPEN,
        "trading_flag": request.trading, "asked_nothing": False,
        "knowledge_entry_id": answered.entry_id if answered else None,
        "text": request.text[:MAX_STORED_TEXT], "latest_text": None,
        "created_at": now, "updated_at": now, "last_message_at": now, "closed_at": None,
    }).fetchone()[0]
    add_message(session, ticket_id, request.chat_group_id, request.message_id, AuthorKind.RETAILER,
                request.sender_user_id, request.text, now)
    trail = [_event_row(ticket_id, now, AuthorKind.RETAILER, request.sender_user_id, "opened", {
        "category": request.category, "bound": request.retailer_id is not None, "trading": request.trading,
        "message_id": request.message_id, "truncated": len(request.text) > MAX_STORED_TEXT,
        "channel": "group" if request.chat_group_id else "private"})]
    if answered is not None:
        trail.append(_event_row(ticket_id, now, AuthorKind.BOT, None, *answered.event()))
    _INSERT_EVENTS.execute_many(session, trail)
    return ticket_id


def add_follow_up(session: Session, ticket_id: int, chat_group_id: int | None, message_id: str | None,
                  user_id: str, text: str, now: datetime) -> None:
    """More from the retailer on the same request: stored, and shown as the ticket's latest words."""
    add_message(session, ticket_id, chat_group_id, message_id, AuthorKind.RETAILER, user_id, text, now)
    _TOUCH_TICKET.execute(session, {"ticket_pk": ticket_id, "last_message_at": now,
                                                 "updated_at": now, "latest_text": text[:MAX_STORED_TEXT]})
    event(session, ticket_id, now, AuthorKind.RETAILER, user_id, "message_added", message_id=message_id)


def latest_of_sender(session: Session, platform: str, user_id: str, since: datetime, *,
                     chat_group_id: int | None) -> Ticket | None:
    """The sender's most recent ticket in this chat (a group, or their private chat) since a moment."""
    params = {"platform": platform, "user_id": user_id, "since": since}
    if chat_group_id is None:
        found = _LATEST_IN_PRIVATE.execute(session, params).fetchone()
    else:
        found = _LATEST_IN_GROUP.execute(session, params | {"chat_group_id": chat_group_id}).fetchone()
    ticket = session.get(Ticket, found[0]) if found is not None else None
    return _followed(session, ticket) if ticket is not None else None


def by_message(session: Session, chat_group_id: int, message_id: str) -> list[Ticket]:
    """The tickets a quoted message belongs to: a retailer's or agent's message on it, or the bot's
    acknowledgement or answer (a combined acknowledgement belongs to several)."""
    stored = session.exec(
        select(Ticket).join(TicketMessage, col(TicketMessage.ticket_id) == Ticket.id)
        .where(TicketMessage.chat_group_id == chat_group_id, TicketMessage.message_id == message_id)
    ).all()
    if stored:
        return list(stored)
    group = session.get(ChatGroup, chat_group_id)
    if group is None:  # no such group: nothing was sent there
        return []
    sent = outbox.tickets_of_sent_message(session, target_id=group.group_id, sent_message_id=message_id)
    found = session.exec(select(Ticket).where(col(Ticket.id).in_(sent), Ticket.chat_group_id == chat_group_id))
    followed = [_followed(session, ticket) for ticket in found]  # the bot's words to a merged ticket
    return list({id_of(ticket): ticket for ticket in followed}.values())


def get(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"工单 #{ticket_id} 不存在")
    return ticket


def get_open(session: Session, ticket_id: int) -> Ticket:
    ticket = get(session, ticket_id)
    if ticket.status == TicketStatus.CLOSED:
        raise ServiceError(f"工单 #{ticket_id} 已关闭")
    return ticket


def _set_status(session: Session, ticket: Ticket, status: str, now: datetime) -> None:
    ticket.status, ticket.updated_at = status, now
    ticket.closed_at = now if status == TicketStatus.CLOSED else None
    session.add(ticket)


def record_reply(session: Session, ticket: Ticket, staff_id: int, text: str, *, now: datetime,
                 message_id: str | None, via: str) -> None:
    """A person replied: the message is kept and an open ticket becomes replied."""
    add_message(session, id_of(ticket), ticket.chat_group_id, message_id, AuthorKind.STAFF, str(staff_id), text, now)
    event(session, id_of(ticket), now, AuthorKind.STAFF, str(staff_id), "replied", via=via, message_id=message_id)
    if ticket.status in (TicketStatus.OPEN, TicketStatus.ANSWERED):
        _set_status(session, ticket, TicketStatus.REPLIED, now)
    else:
        ticket.updated_at = now
        session.add(ticket)


def add_note(session: Session, ticket_id: int, staff_id: int, text: str, *, now: datetime) -> None:
    """An internal note: on the ticket's trail for staff, never sent to the retailer."""
    get(session, ticket_id)
    if not text.strip():
        raise ServiceError("备注不能为空")
    event(session, ticket_id, now, AuthorKind.STAFF, str(staff_id), "note", text=text.strip()[:MAX_STORED_TEXT])


def mark_first_aid(session: Session, ticket_id: int, entry_id: str, score: float, now: datetime) -> None:
    """The knowledge base's answer went out under the acknowledgement of a ticket a person must still deal
    with (a visit is due): the ticket stays open."""
    event(session, ticket_id, now, AuthorKind.BOT, None, "first_aid_from_knowledge", entry=entry_id, score=score)


def reopen(session: Session, ticket: Ticket, *, now: datetime, actor_kind: str, actor_id: str | None,
           reason: str, text: str | None = None, message_id: str | None = None, **detail: Any) -> None:
    """The request is not solved after all; the pledge service restarts the clocks."""
    if text is not None:
        add_message(session, id_of(ticket), ticket.chat_group_id, message_id, AuthorKind.RETAILER, actor_id, text,
                    now)
        ticket.latest_text, ticket.last_message_at = text[:MAX_STORED_TEXT], now
    _set_status(session, ticket, TicketStatus.OPEN, now)
    event(session, id_of(ticket), now, actor_kind, actor_id, "reopened", reason=reason, **detail)


def close(session: Session, ticket: Ticket, *, now: datetime, actor_kind: str, actor_id: str | None,
          reason: str, **detail: Any) -> None:
    if ticket.status == TicketStatus.CLOSED:
        raise ServiceError(f"工单 #{ticket.id} 已经关闭")
    _set_status(session, ticket, TicketStatus.CLOSED, now)
    event(session, id_of(ticket), now, actor_kind, actor_id, "closed", reason=reason, **detail)


def recategorise(session: Session, ticket: Ticket, category: str, *, now: datetime, staff_id: int) -> str:
    """Staff corrected the category the bot read; returns the one it had. The trail keeps both, so the line
    and its right category can teach the intake model."""
    if ticket.asked_nothing:
        raise ServiceError(f"工单 #{ticket.id} 已标为不是诉求，不能再改类别")
    was = ticket.category
    if category == was:
        raise ServiceError(f"工单 #{ticket.id} 已经是这个类别")
    ticket.category, ticket.updated_at = category, now
    session.add(ticket)
    event(session, id_of(ticket), now, AuthorKind.STAFF, str(staff_id), "category_changed", was=was, to=category)
    return was


def visit_ordered_by_staff(session: Session, ticket_id: int) -> bool:
    """Whether the ticket's latest visit was ordered by a person (上门 in the console), not by a category's rule."""
    actor = session.exec(select(TicketEvent.actor_kind).where(
        TicketEvent.ticket_id == ticket_id, TicketEvent.action == "visit_needed")
        .order_by(col(TicketEvent.id).desc()).limit(1)).first()
    return actor == AuthorKind.STAFF


def mark_asked_nothing(session: Session, ticket: Ticket, *, now: datetime, staff_id: int, note: str | None) -> None:
    """Staff found the ticket asks nothing (chatter the bot took for a request): it is closed if it was not,
    and the month's workload no longer counts it as a request."""
    if ticket.asked_nothing:
        raise ServiceError(f"工单 #{ticket.id} 已经标为不是诉求")
    ticket.asked_nothing, ticket.updated_at = True, now
    if ticket.status != TicketStatus.CLOSED:
        _set_status(session, ticket, TicketStatus.CLOSED, now)
    session.add(ticket)
    event(session, id_of(ticket), now, AuthorKind.STAFF, str(staff_id), "not_a_request", note=note)


# a category corrected, a ticket found to ask nothing, a line the bot left alone found to ask something
CORRECTIONS = ("category_changed", "not_a_request", "ticketed_by_staff")


def corrected_lines(session: Session, since: datetime,
                    public_numbers: Collection[str] = ()) -> dict[str, list[str]]:
    """The requests staff corrected since `since`, by the label they gave (a category, or chatter for one that asks
    nothing; a line the bot left alone that staff made a ticket of, by its ticket's category): labelled lines from
    the real groups for the intake model's training (knowledge/intake/). Personal data is masked as in a group
    message: these lines leave the store for files a person reviews."""
    corrected = select(TicketEvent.ticket_id).where(col(TicketEvent.action).in_(CORRECTIONS),
                                                    col(TicketEvent.at) >= since)
    rows = session.exec(select(Ticket.text, Ticket.category, Ticket.asked_nothing)
                        .where(col(Ticket.id).in_(corrected)).order_by(col(Ticket.id)))
    lines: dict[str, list[str]] = {}
    for text, category, asked_nothing in rows:
        lines.setdefault("chatter" if asked_nothing else category, []).append(mask_personal_data(text, public_numbers))
    return lines


def corrections_file(session: Session, since: datetime, public_numbers: Collection[str] = ()) -> str:
    """`corrected_lines` as a YAML file of knowledge/intake/'s shape (`complaint_corrected: [...]`), headed by
    what it holds in Chinese for the person who reviews it."""
    by_label = corrected_lines(session, since, public_numbers)
    lines = {f"{label}_corrected": texts for label, texts in sorted(by_label.items())}
    header = f"# 工作人员纠正的机器人判读（{since:%Y-%m-%d %H:%M} 起，{sum(map(len, lines.values()))} 条）\n"
    return header + (yaml.safe_dump(lines, allow_unicode=True, sort_keys=False) if lines else "{}\n")


# -- the lines the bot opened no ticket for ----------------------------------------------------

UNTICKETED_KEPT_FOR = timedelta(days=7)  # long enough for staff to notice a request the bot took for chatter
_INSERT_UNTICKETED = Prepared(insert(table_of(UnticketedLine)))  # every chatter line of a group comes here
_UNTICKETED_SEEN = Prepared(select(UnticketedLine.id).where(UnticketedLine.chat_group_id == bindparam("group_pk"),
                                                            UnticketedLine.message_id == bindparam("message_id"))
                            .limit(1))


def note_unticketed(session: Session, *, platform: str, chat_group_id: int, message_id: str | None,
                    sender_user_id: str, sender_name: str | None, text: str, reason: str, now: datetime) -> None:
    """A retailer's group line the bot left alone (`reason`: small_talk or not_a_request), kept for a week; once,
    though the event come twice (OneBot sends it again after a reconnect)."""
    if message_id is not None and _UNTICKETED_SEEN.execute(
            session, {"group_pk": chat_group_id, "message_id": message_id}).fetchone():
        return
    _INSERT_UNTICKETED.execute(session, {
        "platform": platform, "chat_group_id": chat_group_id, "message_id": message_id,
        "sender_user_id": sender_user_id, "sender_name": (sender_name or "")[:64] or None,
        "text": text[:MAX_STORED_TEXT], "reason": reason, "said_at": now, "ticket_id": None, "ticketed_by": None,
        "ticketed_at": None})


def unticketed_line(session: Session, line_id: int, *, lock: bool = False) -> UnticketedLine:
    """`lock`: held until the transaction ends, so two people making a ticket of it at once make one (PostgreSQL;
    SQLite has one writer)."""
    line = session.get(UnticketedLine, line_id, with_for_update=lock, populate_existing=lock)
    if line is None:
        raise NotFound(f"没有这条未建单的消息（{line_id}），可能已超过 {UNTICKETED_KEPT_FOR.days} 天")
    return line


def unticketed_by_message(session: Session, chat_group_id: int, message_id: str) -> UnticketedLine | None:
    """The line a staff member quoted in the group, if the bot left it alone."""
    return session.exec(select(UnticketedLine).where(UnticketedLine.chat_group_id == chat_group_id,
                                                     UnticketedLine.message_id == message_id)
                        .order_by(col(UnticketedLine.id).desc()).limit(1)).first()


def unticketed_lines(session: Session, *, since: datetime, chat_group_id: int | None = None,
                     limit: int = 200) -> list[UnticketedLine]:
    """What the bot left alone since `since`, newest first (the console's 未建单 page)."""
    query = select(UnticketedLine).where(col(UnticketedLine.said_at) >= since)
    if chat_group_id is not None:
        query = query.where(UnticketedLine.chat_group_id == chat_group_id)
    return list(session.exec(query.order_by(col(UnticketedLine.said_at).desc(), col(UnticketedLine.id).desc())
                             .limit(limit)))


def ticket_unticketed(session: Session, line: UnticketedLine, *, category: str, retailer_id: int | None,
                      staff_id: int, now: datetime) -> int:
    """Staff found a line the bot left alone is a request: a ticket of it from now (the reply clock starts when
    a person saw it, not when the bot missed it); the trail says who made it and when the retailer said it."""
    if line.ticket_id is not None:
        raise ServiceError(f"这条消息已建单：工单 #{line.ticket_id}")
    ticket_id = open_ticket(session, Request(
        platform=line.platform, chat_group_id=line.chat_group_id, sender_user_id=line.sender_user_id,
        sender_name=line.sender_name, retailer_id=retailer_id, category=category, trading=False, text=line.text,
        message_id=line.message_id), now=now)
    event(session, ticket_id, now, AuthorKind.STAFF, str(staff_id), "ticketed_by_staff",
          said_at=line.said_at.isoformat(), reason=line.reason)
    line.ticket_id, line.ticketed_by, line.ticketed_at = ticket_id, staff_id, now
    session.add(line)
    return ticket_id


def forget_unticketed(session: Session, *, now: datetime) -> int:
    """Delete the lines left alone over a week ago that nobody made a ticket of (the scheduler runs this hourly)."""
    gone = session.exec(delete(UnticketedLine).where(col(UnticketedLine.said_at) < now - UNTICKETED_KEPT_FOR,
                                                     col(UnticketedLine.ticket_id).is_(None)))
    return gone.rowcount


def attach_retailer(session: Session, ticket: Ticket, retailer_id: int, *, now: datetime, staff_id: int) -> None:
    """Staff identified the shop of an unbound sender's ticket."""
    ticket.retailer_id, ticket.updated_at = retailer_id, now
    session.add(ticket)
    event(session, id_of(ticket), now, AuthorKind.STAFF, str(staff_id), "retailer_identified", retailer_id=retailer_id)


def first_retailer_message(session: Session, ticket_id: int) -> str | None:
    """The platform id of the retailer's first message in the ticket's own chat, which replies and
    apologies quote (a ticket merged in from another chat brings messages that cannot be quoted here)."""
    own_chat = select(Ticket.chat_group_id).where(Ticket.id == ticket_id).scalar_subquery()
    return session.exec(
        select(TicketMessage.message_id)
        .where(TicketMessage.ticket_id == ticket_id, TicketMessage.author_kind == AuthorKind.RETAILER,
               col(TicketMessage.chat_group_id).is_not_distinct_from(own_chat))
        .order_by(col(TicketMessage.id))
    ).first()


def knowledge_source(session: Session, ticket_id: int) -> tuple[str, str | None]:
    """The ticket's question and the agent's latest reply, for a knowledge entry."""
    question = get(session, ticket_id).text[:200]
    reply = session.exec(
        select(TicketMessage.text)
        .where(TicketMessage.ticket_id == ticket_id, TicketMessage.author_kind == AuthorKind.STAFF)
        .order_by(col(TicketMessage.id).desc())
    ).first()
    return question, reply


# -- merging duplicates -------------------------------------------------------------------------

MERGED = "merged"  # the closing event's `merged_into` names the ticket a duplicate went into
_MERGE_HOPS = 10  # a target may itself be merged later; the chain is followed this far


def merged_into(session: Session, ticket: Ticket) -> int | None:
    """The ticket a closed duplicate was merged into (None: not merged, or reopened since)."""
    if ticket.status != TicketStatus.CLOSED:
        return None
    closing = session.exec(
        select(TicketEvent).where(TicketEvent.ticket_id == id_of(ticket), TicketEvent.action == "closed")
        .order_by(col(TicketEvent.id).desc())).first()
    target = closing.detail.get("merged_into") if closing is not None else None
    return target if isinstance(target, int) else None


def _followed(session: Session, ticket: Ticket) -> Ticket:
    """A merged duplicate stands for the ticket it went into: the retailer's next words belong there."""
    for _ in range(_MERGE_HOPS):
        target_id = merged_into(session, ticket)
        target = session.get(Ticket, target_id) if target_id is not None else None
        if target is None:
            break
        ticket = target
    return ticket


@dataclass(frozen=True)
class Merged:
    source: Ticket
    target: Ticket
    moved: int  # messages moved into the target


def merge(session: Session, source_id: int, target_id: int, *, now: datetime, staff_id: int | None,
          reason: str | None = None) -> Merged:
    """A duplicate goes into the sender's other ticket: its messages move to the target (so its
    timeline shows them and a quote of them finds it), and the duplicate is closed naming the target.
    Only this ticket table's side; the pledge service cancels the duplicate's clocks. Without `staff_id`, the bot
    merged it (a post that said nothing of what it was about, then the request that did)."""
    if source_id == target_id:
        raise ServiceError(f"不能把工单 #{source_id} 合并到它自己")
    source = get(session, source_id)
    try:
        target = get(session, target_id)
    except NotFound:
        raise NotFound(f"目标工单 #{target_id} 不存在") from None
    if source.status == TicketStatus.CLOSED:
        raise ServiceError(f"工单 #{source_id} 已关闭，不能再合并；如需合并请先重新打开")
    if target.status == TicketStatus.CLOSED:
        raise ServiceError(f"目标工单 #{target_id} 已关闭，不能合并进去；请先重新打开它，或合并到其他工单")
    if (source.platform, source.sender_user_id) != (target.platform, target.sender_user_id) or (
            source.retailer_id and target.retailer_id and source.retailer_id != target.retailer_id):
        raise ServiceError(f"工单 #{source_id} 和 #{target_id} 不是同一位客户提出的，不能合并")
    moved = list(session.exec(select(TicketMessage.id).where(TicketMessage.ticket_id == source_id)
                              .order_by(col(TicketMessage.id))))
    session.exec(update(TicketMessage).where(col(TicketMessage.ticket_id) == source_id)
                 .values(ticket_id=target_id))
    if source.last_message_at > target.last_message_at:  # the duplicate has the retailer's latest words
        target.last_message_at = source.last_message_at
        target.latest_text = source.latest_text or source.text
    target.updated_at = now
    session.add(target)
    actor_kind, actor = (AuthorKind.STAFF, str(staff_id)) if staff_id is not None else (AuthorKind.BOT, None)
    event(session, target_id, now, actor_kind, actor, MERGED, source_ticket_id=source_id,
          message_ids=[message_id for message_id in moved if message_id is not None])
    close(session, source, now=now, actor_kind=actor_kind, actor_id=actor,
          reason=reason or f"已合并到工单 #{target_id}", merged_into=target_id)
    return Merged(source, target, len(moved))


@dataclass(frozen=True)
class TicketFilter:
    status: str | None = None
    category: str | None = None
    chat_group_id: int | None = None
    retailer_id: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    q: str | None = None


def list_tickets(session: Session, flt: TicketFilter, *, offset: int, limit: int,
                 visible: ColumnElement[bool] | None = None) -> tuple[int, list[Ticket]]:
    """`visible` keeps what the caller may see (`access.tickets_visible`)."""
    conditions: list[ColumnElement[bool]] = [] if visible is None else [visible]
    if flt.status:
        conditions.append(col(Ticket.status) == flt.status)
    if flt.category:
        conditions.append(col(Ticket.category) == flt.category)
    if flt.chat_group_id:
        conditions.append(col(Ticket.chat_group_id) == flt.chat_group_id)
    if flt.retailer_id:
        conditions.append(col(Ticket.retailer_id) == flt.retailer_id)
    if flt.created_from:
        conditions.append(col(Ticket.created_at) >= flt.created_from)
    if flt.created_to:
        conditions.append(col(Ticket.created_at) < flt.created_to)
    if flt.q:
        conditions.append(or_(col(Ticket.text).contains(flt.q), col(Ticket.latest_text).contains(flt.q)))
    total = session.exec(select(func.count()).select_from(Ticket).where(*conditions)).one()
    rows = session.exec(
        select(Ticket).where(*conditions).order_by(col(Ticket.id).desc()).offset(offset).limit(limit)
    ).all()
    return total, list(rows)


_Row = TypeVar("_Row", TicketMessage, TicketEvent, Pledge)


def ticket_detail(session: Session, ticket_id: int
                  ) -> tuple[Ticket, list[TicketMessage], list[TicketEvent], list[Pledge]]:
    ticket = get(session, ticket_id)

    def of_ticket(model: type[_Row]) -> list[_Row]:
        return list(session.exec(select(model).where(col(model.ticket_id) == ticket_id).order_by(col(model.id))))

    return ticket, of_ticket(TicketMessage), of_ticket(TicketEvent), of_ticket(Pledge)
