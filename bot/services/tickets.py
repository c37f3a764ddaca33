"""Tickets: every retailer request becomes one, and a human reply meets its reply pledge.

The chat plugin, the API and (later) the scheduler call these functions with
an open session; they never send anything themselves. What the bot should
say in the group comes back as `Outcome.reply_text`; proactive messages go
to the outbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, func, select

from bot import texts
from bot.config import Settings
from bot.models import (
    AuthorKind,
    ChatBinding,
    ChatGroup,
    Pledge,
    PledgeKind,
    PledgeState,
    Role,
    StaffMember,
    Ticket,
    TicketEvent,
    TicketMessage,
    TicketStatus,
)
from bot.services import outbox
from bot.services.classify import analyse, is_small_talk
from bot.services.errors import NotFound, ServiceError

MAX_STORED_TEXT = 20_000  # QQ caps a message near 5,000; anything longer is hostile
_TICKET_REF = re.compile(r"^\s*[#＃](\d{1,9})\s*(.*)$", re.DOTALL)
REPLYING_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)


@dataclass(frozen=True)
class GroupMessage:
    """A group chat message, parsed from whichever adapter delivered it."""

    platform: str
    group_id: str
    user_id: str
    text: str
    message_id: str | None = None
    sender_name: str | None = None
    reply_to: str | None = None
    self_id: str | None = None


class Result(StrEnum):
    IGNORED = "ignored"
    OPENED = "opened"
    FOLLOW_UP = "follow_up"
    AGENT_REPLY = "agent_reply"


@dataclass(frozen=True)
class Outcome:
    result: Result
    ticket_id: int | None = None
    reply_text: str | None = None
    reason: str = ""


def _event(session: Session, ticket: Ticket, now: datetime, actor_kind: AuthorKind,
           actor_id: str | None, action: str, **detail: Any) -> None:
    session.add(TicketEvent(ticket_id=ticket.id, at=now, actor_kind=actor_kind,
                            actor_id=actor_id, action=action, detail=detail))


def _find_group(session: Session, platform: str, group_id: str) -> ChatGroup | None:
    return session.exec(
        select(ChatGroup).where(ChatGroup.platform == platform, ChatGroup.group_id == group_id)
    ).first()


def _find_staff(session: Session, user_id: str) -> StaffMember | None:
    return session.exec(
        select(StaffMember).where(StaffMember.chat_user_id == user_id, StaffMember.active)
    ).first()


def _ticket_by_message(session: Session, group: ChatGroup, message_id: str) -> Ticket | None:
    """The ticket a quoted message belongs to (the retailer's or the bot's acknowledgement)."""
    return session.exec(
        select(Ticket)
        .join(TicketMessage, TicketMessage.ticket_id == Ticket.id)
        .where(TicketMessage.chat_group_id == group.id, TicketMessage.message_id == message_id)
    ).first()


def _open_thread(session: Session, group: ChatGroup, user_id: str, since: datetime) -> Ticket | None:
    return session.exec(
        select(Ticket)
        .where(
            Ticket.chat_group_id == group.id,
            Ticket.sender_user_id == user_id,
            Ticket.status != TicketStatus.CLOSED,
            Ticket.last_message_at >= since,
        )
        .order_by(col(Ticket.last_message_at).desc())
    ).first()


def _add_message(session: Session, ticket: Ticket, group: ChatGroup, message_id: str | None,
                 author_kind: AuthorKind, author_id: str | None, text: str, now: datetime) -> None:
    session.add(TicketMessage(ticket_id=ticket.id, chat_group_id=group.id, message_id=message_id,
                              author_kind=author_kind, author_id=author_id,
                              text=text[:MAX_STORED_TEXT], created_at=now))


def handle_group_message(session: Session, msg: GroupMessage, *, now: datetime,
                         settings: Settings) -> Outcome:
    """Decide what a group message is: a new ticket, a follow-up, an agent's reply, or chat."""
    group = _find_group(session, msg.platform, msg.group_id)
    if group is None or not group.active:
        return Outcome(Result.IGNORED, reason="group not registered")
    if msg.self_id and msg.user_id == msg.self_id:
        return Outcome(Result.IGNORED, reason="the bot's own message")
    if msg.self_id and group.bot_id != msg.self_id:
        group.bot_id = msg.self_id  # the account to post back through
        session.add(group)
    if msg.message_id and session.exec(
        select(TicketMessage.id).where(TicketMessage.chat_group_id == group.id,
                                       TicketMessage.message_id == msg.message_id)
    ).first():
        return Outcome(Result.IGNORED, reason="event already handled")

    staff = _find_staff(session, msg.user_id)
    if staff is not None:
        return _handle_staff_message(session, group, staff, msg, now)

    quoted = _ticket_by_message(session, group, msg.reply_to) if msg.reply_to else None
    if quoted is not None and quoted.sender_user_id != msg.user_id:
        quoted = None  # quoting someone else's ticket does not make it yours
    if is_small_talk(msg.text) and quoted is None:
        return Outcome(Result.IGNORED, reason="small talk")

    window = timedelta(minutes=settings.thread_window_minutes)
    thread = quoted if quoted and quoted.status != TicketStatus.CLOSED else None
    thread = thread or _open_thread(session, group, msg.user_id, now - window)
    if thread is not None:
        _add_message(session, thread, group, msg.message_id, AuthorKind.RETAILER, msg.user_id,
                     msg.text, now)
        thread.last_message_at = thread.updated_at = now
        session.add(thread)
        _event(session, thread, now, AuthorKind.RETAILER, msg.user_id, "message_added",
               message_id=msg.message_id)
        return Outcome(Result.FOLLOW_UP, ticket_id=thread.id)

    analysis = analyse(msg.text)
    if not analysis.is_request:
        return Outcome(Result.IGNORED, reason="not a request")
    return _open_ticket(session, group, msg, analysis.category, analysis.trading, now, settings)


def _open_ticket(session: Session, group: ChatGroup, msg: GroupMessage, category: str,
                 trading: bool, now: datetime, settings: Settings) -> Outcome:
    binding = session.exec(
        select(ChatBinding).where(ChatBinding.platform == msg.platform,
                                  ChatBinding.chat_user_id == msg.user_id)
    ).first()
    ticket = Ticket(
        chat_group_id=group.id, retailer_id=binding.retailer_id if binding else None,
        sender_user_id=msg.user_id, sender_name=(msg.sender_name or "")[:64] or None,
        category=category, status=TicketStatus.OPEN, trading_flag=trading,
        text=msg.text[:MAX_STORED_TEXT], created_at=now, updated_at=now, last_message_at=now,
    )
    session.add(ticket)
    session.flush()
    _add_message(session, ticket, group, msg.message_id, AuthorKind.RETAILER, msg.user_id,
                 msg.text, now)
    due = now + timedelta(minutes=settings.reply_due_minutes)
    session.add(Pledge(ticket_id=ticket.id, kind=PledgeKind.REPLY, owner_role=Role.AGENT,
                       due_at=due, created_at=now))
    _event(session, ticket, now, AuthorKind.RETAILER, msg.user_id, "opened",
           category=category, bound=binding is not None, trading=trading,
           message_id=msg.message_id, truncated=len(msg.text) > MAX_STORED_TEXT)
    reply = texts.acknowledgement(ticket.id, category, due, now, settings.tz, trading)
    return Outcome(Result.OPENED, ticket_id=ticket.id, reply_text=reply)


def _handle_staff_message(session: Session, group: ChatGroup, staff: StaffMember,
                          msg: GroupMessage, now: datetime) -> Outcome:
    """Staff never open tickets; an agent's quote or `#number text` is a reply."""
    if not staff.has_role(*REPLYING_ROLES):
        return Outcome(Result.IGNORED, reason="staff chat")
    ticket, text = None, msg.text.strip()
    if msg.reply_to:
        ticket = _ticket_by_message(session, group, msg.reply_to)
    if ticket is None and (ref := _TICKET_REF.match(text)):
        candidate = session.get(Ticket, int(ref.group(1)))
        if candidate is not None and candidate.chat_group_id == group.id:
            ticket, text = candidate, ref.group(2).strip()
    if ticket is None or not text:
        return Outcome(Result.IGNORED, reason="staff chat")
    record_reply(session, ticket, staff, text, now=now, message_id=msg.message_id, via="chat")
    return Outcome(Result.AGENT_REPLY, ticket_id=ticket.id)


def record_acknowledgement(session: Session, ticket_id: int, message_id: str | None,
                           text: str, *, now: datetime) -> None:
    """Remember the bot's acknowledgement so an agent can quote it. It meets no pledge."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return
    if message_id:
        ticket.ack_message_id = message_id
        session.add(ticket)
    group = session.get(ChatGroup, ticket.chat_group_id)
    _add_message(session, ticket, group, message_id, AuthorKind.BOT, None, text, now)
    _event(session, ticket, now, AuthorKind.BOT, None, "acknowledged", message_id=message_id)


def record_reply(session: Session, ticket: Ticket, staff: StaffMember, text: str, *,
                 now: datetime, message_id: str | None = None, via: str) -> None:
    """A human reply: it meets the reply pledge if that is still pending."""
    group = session.get(ChatGroup, ticket.chat_group_id)
    _add_message(session, ticket, group, message_id, AuthorKind.STAFF, str(staff.id), text, now)
    _event(session, ticket, now, AuthorKind.STAFF, str(staff.id), "replied", via=via,
           message_id=message_id)
    pledge = session.exec(
        select(Pledge).where(Pledge.ticket_id == ticket.id, Pledge.kind == PledgeKind.REPLY)
    ).first()
    if pledge is not None and pledge.state == PledgeState.PENDING:
        pledge.state, pledge.met_at, pledge.met_by_staff_id = PledgeState.MET, now, staff.id
        session.add(pledge)
        _event(session, ticket, now, AuthorKind.STAFF, str(staff.id), "pledge_met", kind="reply")
    if ticket.status == TicketStatus.OPEN:
        ticket.status = TicketStatus.REPLIED
    ticket.updated_at = now
    session.add(ticket)


def _get_ticket(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"工单 #{ticket_id} 不存在")
    return ticket


def reply_via_api(session: Session, ticket_id: int, staff: StaffMember, text: str, *,
                  now: datetime) -> Ticket:
    """An agent's reply from the console: recorded now, posted in the group by the outbox."""
    ticket = _get_ticket(session, ticket_id)
    if ticket.status == TicketStatus.CLOSED:
        raise ServiceError(f"工单 #{ticket_id} 已关闭，不能再回复")
    record_reply(session, ticket, staff, text, now=now, via="api")
    group = session.get(ChatGroup, ticket.chat_group_id)
    first = session.exec(
        select(TicketMessage)
        .where(TicketMessage.ticket_id == ticket.id, TicketMessage.author_kind == AuthorKind.RETAILER)
        .order_by(col(TicketMessage.id))
    ).first()
    outbox.enqueue(session, now=now, platform=group.platform, bot_id=group.bot_id,
                   target_kind="group", target_id=group.group_id,
                   text=texts.agent_reply(ticket.id, text),
                   reply_to=first.message_id if first else None, ticket_id=ticket.id)
    return ticket


def close_ticket(session: Session, ticket_id: int, staff: StaffMember, note: str | None, *,
                 now: datetime) -> Ticket:
    ticket = _get_ticket(session, ticket_id)
    if ticket.status == TicketStatus.CLOSED:
        raise ServiceError(f"工单 #{ticket_id} 已经关闭")
    ticket.status, ticket.closed_at, ticket.updated_at = TicketStatus.CLOSED, now, now
    session.add(ticket)
    for pledge in session.exec(
        select(Pledge).where(Pledge.ticket_id == ticket.id, Pledge.state == PledgeState.PENDING)
    ):
        pledge.state = PledgeState.CANCELLED
        session.add(pledge)
    _event(session, ticket, now, AuthorKind.STAFF, str(staff.id), "closed", note=note)
    return ticket


@dataclass(frozen=True)
class TicketFilter:
    status: str | None = None
    category: str | None = None
    chat_group_id: int | None = None
    retailer_id: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def list_tickets(session: Session, flt: TicketFilter, *, offset: int, limit: int
                 ) -> tuple[int, list[Ticket]]:
    conditions = []
    if flt.status:
        conditions.append(Ticket.status == flt.status)
    if flt.category:
        conditions.append(Ticket.category == flt.category)
    if flt.chat_group_id:
        conditions.append(Ticket.chat_group_id == flt.chat_group_id)
    if flt.retailer_id:
        conditions.append(Ticket.retailer_id == flt.retailer_id)
    if flt.created_from:
        conditions.append(Ticket.created_at >= flt.created_from)
    if flt.created_to:
        conditions.append(Ticket.created_at < flt.created_to)
    total = session.exec(select(func.count()).select_from(Ticket).where(*conditions)).one()
    rows = session.exec(
        select(Ticket).where(*conditions).order_by(col(Ticket.id).desc()).offset(offset).limit(limit)
    ).all()
    return total, list(rows)


def ticket_detail(session: Session, ticket_id: int
                  ) -> tuple[Ticket, list[TicketMessage], list[TicketEvent], list[Pledge]]:
    ticket = _get_ticket(session, ticket_id)

    def of_ticket(model: type) -> list:
        return list(session.exec(select(model).where(model.ticket_id == ticket_id).order_by(model.id)))

    return ticket, of_ticket(TicketMessage), of_ticket(TicketEvent), of_ticket(Pledge)

