"""Tickets: every retailer request becomes one, and a human reply meets its reply pledge.

The chat plugin, the API and (later) the scheduler call these functions with
an open session; they never send anything themselves. What the bot should
say in the group comes back as `Outcome.reply_text`; proactive messages go
to the outbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, col, func, select

from bot import texts
from bot.config import Settings
from bot.models import (
    AuthorKind,
    BindHint,
    Category,
    UTCDateTime,
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
from bot.policy import Policies
from bot.services import directory, inquiries, outbox, pledges
from bot.services.classify import analyse, is_small_talk
from bot.services.errors import NotFound, ServiceError
from bot.services.knowledge import Decision, Entry, KnowledgeBase
from bot.services.knowledge import Result as KnowledgeResult

MAX_STORED_TEXT = 20_000
_PUNCTUATION = re.compile(r"[\s\W_]+", re.UNICODE)  # QQ caps a message near 5,000; anything longer is hostile
_TICKET_REF = re.compile(r"^\s*[#＃](\d{1,9})\s*(.*)$", re.DOTALL)
_HELP = frozenset({"帮助", "菜单", "help", "功能", "栏目"})
_HANDOVER = frozenset({"转人工", "人工", "人工客服", "找人工", "要人工", "没解决", "没有解决", "还是不行", "不行"})
HANDOVER_WINDOW = timedelta(hours=24)
_COLUMN_CATEGORY = {"terminal": Category.TERMINAL, "training": Category.TRAINING,
                    "marketing": Category.MARKETING, "delivery": Category.DELIVERY,
                    "monopoly": Category.MONOPOLY, "general": Category.OTHER}
_ADD_WORDING = re.compile(r"^(?:加问法|加入知识库)\s*([a-z]+\.[a-z0-9-]+)$")
_VISIT_ORDER = re.compile(r"^(?:需要|需)?上门(?:服务)?\s*[:：，,]?\s*(.*)$", re.DOTALL)
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
    VISIT_ORDERED = "visit_ordered"
    HANDED_OVER = "handed_over"
    CURATED = "curated"
    MENU = "menu"
    INQUIRY = "inquiry"  # a supply or launch question, answered from the data


@dataclass(frozen=True)
class Outcome:
    result: Result
    ticket_id: int | None = None
    chat_group_id: int | None = None
    reply_text: str | None = None
    reason: str = ""


# Intake is the hot path (bench/intake_load.py): its statements are built once, with bind
# parameters, and run on the session's connection; building them per message cost more
# than the database did.
_GROUP = select(ChatGroup.id, ChatGroup.active, ChatGroup.bot_id).where(
    ChatGroup.platform == bindparam("platform"), ChatGroup.group_id == bindparam("group_id"))
_SET_GROUP_BOT = update(ChatGroup).where(ChatGroup.id == bindparam("group_pk")).values(
    bot_id=bindparam("bot_id"))
_SEEN = select(TicketMessage.id).where(TicketMessage.chat_group_id == bindparam("group_pk"),
                                       TicketMessage.message_id == bindparam("message_id"))
_STAFF = select(StaffMember.id).where(StaffMember.chat_user_id == bindparam("user_id"),
                                      StaffMember.active)
_THREAD = (select(Ticket.id)
           .where(Ticket.chat_group_id == bindparam("group_pk"),
                  Ticket.sender_user_id == bindparam("user_id"),
                  Ticket.status != TicketStatus.CLOSED,
                  Ticket.last_message_at >= bindparam("since", type_=UTCDateTime))
           .order_by(col(Ticket.last_message_at).desc()).limit(1))
_BINDING = select(ChatBinding.retailer_id).where(ChatBinding.platform == bindparam("platform"),
                                                 ChatBinding.chat_user_id == bindparam("user_id"))
_HINT_DAY = select(BindHint.id, BindHint.day).where(BindHint.platform == bindparam("platform"),
                                                    BindHint.chat_user_id == bindparam("user_id"))
_INSERT_HINT = insert(BindHint.__table__)
_SET_HINT_DAY = update(BindHint.__table__).where(BindHint.__table__.c.id == bindparam("hint_pk"))
_INSERT_TICKET = insert(Ticket.__table__).returning(Ticket.__table__.c.id)
_TOUCH_TICKET = update(Ticket.__table__).where(Ticket.__table__.c.id == bindparam("ticket_pk"))
_INSERT_MESSAGE = insert(TicketMessage.__table__)
_INSERT_EVENT = insert(TicketEvent.__table__)
_INSERT_PLEDGE = insert(Pledge.__table__)


def _event(session: Session, ticket_id: int, now: datetime, actor_kind: AuthorKind,
           actor_id: str | None, action: str, **detail: Any) -> None:
    session.connection().execute(_INSERT_EVENT, {
        "ticket_id": ticket_id, "at": now, "actor_kind": actor_kind, "actor_id": actor_id,
        "action": action, "detail": detail})


def _add_message(session: Session, ticket_id: int, chat_group_id: int, message_id: str | None,
                 author_kind: AuthorKind, author_id: str | None, text: str, now: datetime) -> None:
    session.connection().execute(_INSERT_MESSAGE, {
        "ticket_id": ticket_id, "chat_group_id": chat_group_id, "message_id": message_id,
        "author_kind": author_kind, "author_id": author_id, "text": text[:MAX_STORED_TEXT],
        "created_at": now})


def _ticket_by_message(session: Session, chat_group_id: int, message_id: str) -> Ticket | None:
    """The ticket a quoted message belongs to (the retailer's or the bot's acknowledgement)."""
    return session.exec(
        select(Ticket)
        .join(TicketMessage, TicketMessage.ticket_id == Ticket.id)
        .where(TicketMessage.chat_group_id == chat_group_id, TicketMessage.message_id == message_id)
    ).first()


def handle_group_message(session: Session, msg: GroupMessage, *, now: datetime,
                         settings: Settings, policies: Policies,
                         knowledge: KnowledgeBase | None = None) -> Outcome:
    """Decide what a group message is: a new ticket, a follow-up, an agent's reply, or chat."""
    db = session.connection()
    group = db.execute(_GROUP, {"platform": msg.platform, "group_id": msg.group_id}).first()
    if group is None or not group.active:
        return Outcome(Result.IGNORED, reason="group not registered")
    if msg.self_id and msg.user_id == msg.self_id:
        return Outcome(Result.IGNORED, reason="the bot's own message")
    if msg.self_id and group.bot_id != msg.self_id:  # the account to post back through
        db.execute(_SET_GROUP_BOT, {"group_pk": group.id, "bot_id": msg.self_id})
    if msg.message_id and db.execute(
        _SEEN, {"group_pk": group.id, "message_id": msg.message_id}
    ).first():
        return Outcome(Result.IGNORED, reason="event already handled")

    staff_id = db.execute(_STAFF, {"user_id": msg.user_id}).scalar()
    if staff_id is not None:
        return _handle_staff_message(session, group.id, session.get(StaffMember, staff_id), msg, now,
                                     policies, settings.tz, knowledge)

    bare = _PUNCTUATION.sub("", msg.text).lower()
    if bare in _HELP:
        return Outcome(Result.MENU, reply_text=texts.MENU)
    quoted = _ticket_by_message(session, group.id, msg.reply_to) if msg.reply_to else None
    if bare in _HANDOVER and (answered := _answered_ticket(session, group.id, msg.user_id, quoted, now)):
        return _hand_over(session, answered, msg, now, settings, policies)
    if quoted is not None and (quoted.sender_user_id != msg.user_id
                               or quoted.status == TicketStatus.CLOSED):
        quoted = None  # someone else's ticket, or a closed one, is not this message's thread
    if inquiries.might_be(msg.text, quoting=msg.reply_to is not None) and (asked := inquiries.answer(
            session, inquiries.Asker(msg.platform, msg.user_id, session.get(ChatGroup, group.id), msg.reply_to),
            msg.text, now=now, tz=settings.tz, policies=policies)):
        return Outcome(Result.INQUIRY, chat_group_id=group.id, reply_text=asked.text, reason=asked.ask)
    if is_small_talk(msg.text) and quoted is None:
        return Outcome(Result.IGNORED, reason="small talk")

    window = timedelta(minutes=settings.thread_window_minutes)
    thread_id = quoted.id if quoted else db.execute(
        _THREAD, {"group_pk": group.id, "user_id": msg.user_id, "since": now - window}).scalar()
    if thread_id is not None:
        _add_message(session, thread_id, group.id, msg.message_id, AuthorKind.RETAILER, msg.user_id,
                     msg.text, now)
        db.execute(_TOUCH_TICKET, {"ticket_pk": thread_id, "last_message_at": now, "updated_at": now})
        _event(session, thread_id, now, AuthorKind.RETAILER, msg.user_id, "message_added",
               message_id=msg.message_id)
        return Outcome(Result.FOLLOW_UP, ticket_id=thread_id, chat_group_id=group.id)

    analysis = analyse(msg.text)
    found = knowledge.index.decide(msg.text) if knowledge and not analysis.trading else None
    known = found is not None and found.decision == Decision.ANSWER
    if not analysis.is_request and not known:  # a question the base knows is a request, cue or not
        return Outcome(Result.IGNORED, reason="not a request")
    category = analysis.category
    if known and category == Category.OTHER:
        category = _COLUMN_CATEGORY[found.best.column]
    return _open_ticket(session, group.id, msg, category, analysis.trading, now, settings, policies, found)


def _open_ticket(session: Session, chat_group_id: int, msg: GroupMessage, category: str,
                 trading: bool, now: datetime, settings: Settings, policies: Policies,
                 found: KnowledgeResult | None) -> Outcome:
    db = session.connection()
    retailer_id = db.execute(_BINDING, {"platform": msg.platform, "user_id": msg.user_id}).scalar()
    needs_visit = policies.needs_visit(category, msg.text)
    # A visit means a person must look at it: no automatic answer then.
    answer = found.best if found and found.decision == Decision.ANSWER and not needs_visit else None
    auto_met = answer is not None and policies.auto_answer_meets_reply
    ticket_id = db.execute(_INSERT_TICKET, {
        "chat_group_id": chat_group_id, "retailer_id": retailer_id, "sender_user_id": msg.user_id,
        "sender_name": (msg.sender_name or "")[:64] or None, "category": category,
        "status": TicketStatus.ANSWERED if answer else TicketStatus.OPEN, "trading_flag": trading,
        "knowledge_entry_id": answer.id if answer else None, "text": msg.text[:MAX_STORED_TEXT],
        "created_at": now, "updated_at": now, "last_message_at": now,
        "closed_at": None,
    }).scalar_one()
    _add_message(session, ticket_id, chat_group_id, msg.message_id, AuthorKind.RETAILER,
                 msg.user_id, msg.text, now)
    clock = pledges.clock_for(policies, PledgeKind.REPLY, category, now, settings.tz)
    due = clock.due_at
    db.execute(_INSERT_PLEDGE, {
        "ticket_id": ticket_id, "kind": PledgeKind.REPLY, "owner_role": Role.AGENT,
        "owner_staff_id": None, "state": PledgeState.MET if auto_met else PledgeState.PENDING,
        "due_at": due, "met_at": now if auto_met else None, "met_by_staff_id": None, "created_at": now,
        "started_at": now, "warn_at": clock.warn_at, "warned_at": None, "breached_at": None,
        "escalation_level": 0, "next_check_at": None if auto_met else min(clock.warn_at, due),
        "paused_at": None, "remaining_seconds": None})
    _event(session, ticket_id, now, AuthorKind.RETAILER, msg.user_id, "opened",
           category=category, bound=retailer_id is not None, trading=trading,
           message_id=msg.message_id, truncated=len(msg.text) > MAX_STORED_TEXT)
    if needs_visit:
        pledges.need_visit(session, ticket_id, note="按类别规则需要上门", now=now, policies=policies,
                           tz=settings.tz)
    if answer is not None:
        _event(session, ticket_id, now, AuthorKind.BOT, None, "answered_from_knowledge",
               entry=answer.id, score=found.matches[0].score)
        card = directory.retailer_card(session, retailer_id) if retailer_id else None
        return Outcome(Result.OPENED, ticket_id=ticket_id, chat_group_id=chat_group_id,
                       reply_text=texts.auto_answer(ticket_id, answer.render(card)))
    reply = texts.acknowledgement(ticket_id, category, due, now, settings.tz, trading)
    if found and found.decision == Decision.SUGGEST:
        reply += "\n" + texts.suggestions([match.entry.question for match in found.matches])
    if retailer_id is None and _first_hint_today(session, msg, now.astimezone(settings.tz).date().isoformat()):
        reply += "\n" + texts.BIND_HINT
    return Outcome(Result.OPENED, ticket_id=ticket_id, chat_group_id=chat_group_id, reply_text=reply)


def _answered_ticket(session: Session, chat_group_id: int, user_id: str, quoted: Ticket | None,
                     now: datetime) -> Ticket | None:
    """The automatic answer a 转人工 refers to: the quoted one, or the sender's latest today."""
    if quoted is not None:
        return quoted if quoted.status == TicketStatus.ANSWERED and quoted.sender_user_id == user_id else None
    return session.exec(
        select(Ticket)
        .where(Ticket.chat_group_id == chat_group_id, Ticket.sender_user_id == user_id,
               Ticket.status == TicketStatus.ANSWERED, Ticket.created_at >= now - HANDOVER_WINDOW)
        .order_by(col(Ticket.id).desc())
    ).first()


def _hand_over(session: Session, ticket: Ticket, msg: GroupMessage, now: datetime, settings: Settings,
               policies: Policies) -> Outcome:
    """The retailer wants a person: the ticket reopens and the reply pledge starts for an agent."""
    _add_message(session, ticket.id, ticket.chat_group_id, msg.message_id, AuthorKind.RETAILER,
                 msg.user_id, msg.text, now)
    ticket.status, ticket.updated_at, ticket.last_message_at = TicketStatus.OPEN, now, now
    session.add(ticket)
    reply = session.exec(select(Pledge).where(Pledge.ticket_id == ticket.id,
                                              Pledge.kind == PledgeKind.REPLY)).one()
    pledges.restart(session, reply, category=ticket.category, now=now, policies=policies, tz=settings.tz)
    _event(session, ticket.id, now, AuthorKind.RETAILER, msg.user_id, "handed_to_agent")
    return Outcome(Result.HANDED_OVER, ticket_id=ticket.id, chat_group_id=ticket.chat_group_id,
                   reply_text=texts.handed_over(ticket.id, reply.due_at, now, settings.tz))


def _first_hint_today(session: Session, msg: GroupMessage, today: str) -> bool:
    """An unbound sender is told how to bind at most once a day."""
    db = session.connection()
    hint = db.execute(_HINT_DAY, {"platform": msg.platform, "user_id": msg.user_id}).first()
    if hint is None:
        db.execute(_INSERT_HINT, {"platform": msg.platform, "chat_user_id": msg.user_id, "day": today})
    elif hint.day != today:
        db.execute(_SET_HINT_DAY, {"hint_pk": hint.id, "day": today})
    else:
        return False
    return True


def _handle_staff_message(session: Session, chat_group_id: int, staff: StaffMember,
                          msg: GroupMessage, now: datetime, policies: Policies, tz: ZoneInfo,
                          knowledge: KnowledgeBase | None) -> Outcome:
    """Staff never open tickets; an agent's quote or `#number text` is a reply, `#number 上门` a visit,
    `#number 加问法 <entry id>` adds the retailer's wording to a knowledge entry."""
    if not staff.has_role(*REPLYING_ROLES):
        return Outcome(Result.IGNORED, reason="staff chat")
    ticket, text = None, msg.text.strip()
    if msg.reply_to:
        ticket = _ticket_by_message(session, chat_group_id, msg.reply_to)
    if ticket is None and (ref := _TICKET_REF.match(text)):
        candidate = session.get(Ticket, int(ref.group(1)))
        if candidate is not None and candidate.chat_group_id == chat_group_id:
            ticket, text = candidate, ref.group(2).strip()
    if ticket is None or not text:
        return Outcome(Result.IGNORED, reason="staff chat")
    if (wording := _ADD_WORDING.match(text)) and knowledge is not None:
        try:
            knowledge.add_similar(wording.group(1), ticket.text[:200])
        except ServiceError as refused:
            return Outcome(Result.CURATED, ticket_id=ticket.id, reply_text=str(refused))
        _event(session, ticket.id, now, AuthorKind.STAFF, str(staff.id), "wording_added", entry=wording.group(1))
        return Outcome(Result.CURATED, ticket_id=ticket.id,
                       reply_text=texts.WORDING_ADDED.format(entry=wording.group(1)))
    if visit := _VISIT_ORDER.match(text):
        pledges.need_visit(session, ticket.id, note=visit.group(1) or None, now=now, policies=policies,
                           tz=tz, staff_id=staff.id)
        return Outcome(Result.VISIT_ORDERED, ticket_id=ticket.id, chat_group_id=chat_group_id,
                       reply_text=texts.VISIT_ORDERED.format(ticket_id=ticket.id))
    record_reply(session, ticket, staff, text, now=now, policies=policies, tz=tz,
                 message_id=msg.message_id, via="chat")
    return Outcome(Result.AGENT_REPLY, ticket_id=ticket.id, chat_group_id=chat_group_id)


def record_acknowledgement(session: Session, outcome: Outcome, message_id: str | None, *,
                           now: datetime) -> None:
    """Remember the bot's acknowledgement so an agent can quote it. It meets no pledge."""
    _add_message(session, outcome.ticket_id, outcome.chat_group_id, message_id, AuthorKind.BOT,
                 None, outcome.reply_text, now)
    _event(session, outcome.ticket_id, now, AuthorKind.BOT, None, "acknowledged",
           message_id=message_id)


def record_reply(session: Session, ticket: Ticket, staff: StaffMember, text: str, *,
                 now: datetime, policies: Policies, tz: ZoneInfo, message_id: str | None = None,
                 via: str) -> None:
    """A human reply: it meets the reply pledge if that is still pending."""
    _add_message(session, ticket.id, ticket.chat_group_id, message_id, AuthorKind.STAFF,
                 str(staff.id), text, now)
    _event(session, ticket.id, now, AuthorKind.STAFF, str(staff.id), "replied", via=via,
           message_id=message_id)
    pledge = session.exec(
        select(Pledge).where(Pledge.ticket_id == ticket.id, Pledge.kind == PledgeKind.REPLY)
    ).first()
    if pledge is not None and pledge.state == PledgeState.PENDING:
        pledge.state, pledge.met_at, pledge.met_by_staff_id = PledgeState.MET, now, staff.id
        session.add(pledge)
        _event(session, ticket.id, now, AuthorKind.STAFF, str(staff.id), "pledge_met", kind="reply")
    if ticket.status == TicketStatus.OPEN:
        ticket.status = TicketStatus.REPLIED
    ticket.updated_at = now
    session.add(ticket)
    pledges.maybe_start_callback(session, ticket, now=now, policies=policies, tz=tz)


def _get_ticket(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"工单 #{ticket_id} 不存在")
    return ticket


def reply_via_api(session: Session, ticket_id: int, staff: StaffMember, text: str, *,
                  now: datetime, policies: Policies, tz: ZoneInfo) -> Ticket:
    """An agent's reply from the console: recorded now, posted in the group by the outbox."""
    ticket = _get_ticket(session, ticket_id)
    if ticket.status == TicketStatus.CLOSED:
        raise ServiceError(f"工单 #{ticket_id} 已关闭，不能再回复")
    record_reply(session, ticket, staff, text, now=now, policies=policies, tz=tz, via="api")
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
    _event(session, ticket.id, now, AuthorKind.STAFF, str(staff.id), "closed", note=note)
    return ticket


def to_knowledge(session: Session, ticket_id: int, knowledge: KnowledgeBase, entry_id: str, *,
                 today: date) -> Entry:
    """The ticket's question joins an entry; a new entry takes the agent's latest reply as its answer."""
    question = _get_ticket(session, ticket_id).text[:200]
    if knowledge.exists(entry_id):
        return knowledge.add_similar(entry_id, question)
    reply = session.exec(
        select(TicketMessage.text)
        .where(TicketMessage.ticket_id == ticket_id, TicketMessage.author_kind == AuthorKind.STAFF)
        .order_by(col(TicketMessage.id).desc())
    ).first()
    if reply is None:
        raise ServiceError(f"工单 #{ticket_id} 还没有客服回复，无法生成新的知识条目")
    return knowledge.create(Entry(id=entry_id, column=entry_id.split(".")[0], question=question,
                                  similar=(question,), answer=reply, reviewed=today))


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

