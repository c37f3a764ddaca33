"""Workload and the bot: the requests of the period by category and by day, how many the knowledge
base answered and how many of those were handed over to a person (转人工) after, the entries most
used, the questions to teach it next, and the interest in supply notices and launches.

A request is counted by its ticket's first reply round (it starts when the ticket opens and keeps
the group, district and category of that moment), so the figures scope like the others. A person's
scope counts the requests whose first reply they owned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, ScalarSelect, case, func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot.models import (
    Category,
    ChatGroup,
    Interest,
    PledgeKind,
    PledgeRound,
    Product,
    Ticket,
    UnticketedLine,
    table_of,
)
from bot.services.reports.base import Period, Scope, local_day, share
from bot.services.reports.compliance import in_scope
from bot.texts import CATEGORY_LABELS

INTEREST_LABELS = {"asked": "询问", "want": "想要", "not_interested": "不感兴趣"}
SUBJECT_LABELS = {"supply": "货源", "launch": "新品"}
TOP = 20


@dataclass(frozen=True)
class Count:
    key: str
    label: str
    count: int
    extra: int = 0  # entries: how many of its answers were handed over after


@dataclass(frozen=True)
class Question:
    text: str
    count: int
    ticket_id: int  # the latest one asked, to open
    handed_over: int  # of those, answered by the bot and then handed over


@dataclass
class Workload:
    period: Period
    scope: Scope
    requests: int = 0
    answered_by_bot: int = 0
    handed_over: int = 0
    asked_nothing: int = 0  # tickets of the period staff marked as asking nothing: not among the requests
    ticketed_by_staff: int = 0  # requests of the period the bot left alone and staff made tickets of (建单)
    by_category: list[Count] = field(default_factory=list)
    by_day: list[tuple[date, int, bool]] = field(default_factory=list)  # day, requests, working day
    entries: list[Count] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    interest: list[Count] = field(default_factory=list)

    @property
    def bot_share(self) -> float | None:
        return share(self.answered_by_bot, self.requests)

    @property
    def handover_share(self) -> float | None:
        """Of the bot's answers, the share a retailer handed over to a person after."""
        return share(self.handed_over, self.answered_by_bot)


def handed_over_tickets(period: Period, tz: ZoneInfo) -> ScalarSelect[int]:
    """The tickets a retailer handed over to a person (转人工) after the bot's answer, as a subquery: a
    handover follows its ticket's opening, so only rounds from the period's start on are read."""
    handover = aliased(PledgeRound)
    return (select(handover.ticket_id).where(col(handover.started_at) >= period.bounds(tz)[0],
                                             col(handover.kind) == PledgeKind.REPLY,
                                             col(handover.reason) == "handover").scalar_subquery())


def first_rounds(period: Period, scope: Scope, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    """One row per request of the period: its ticket's first reply round (not a ticket staff found asks nothing)."""
    return [*tickets_opened(period, scope, tz), col(PledgeRound.ticket_id).not_in(asked_nothing())]


def tickets_opened(period: Period, scope: Scope, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    """One row per ticket opened in the period, requests or not: its first reply round."""
    return [*in_scope(period, scope, tz), col(PledgeRound.kind) == PledgeKind.REPLY, col(PledgeRound.round_no) == 1]


def asked_nothing() -> ScalarSelect[int]:
    """The tickets staff marked as asking nothing (不是诉求), as a subquery."""
    return select(Ticket.id).where(col(Ticket.asked_nothing).is_(True)).scalar_subquery()


def report(session: Session, period: Period, scope: Scope, tz: ZoneInfo,
           is_workday: Callable[[date], bool]) -> Workload:
    """`is_workday` marks the days of the chart (the desk calendar's)."""
    first = first_rounds(period, scope, tz)
    result = Workload(period, scope)
    for category, count, by_bot in session.exec(
            select(PledgeRound.category, func.count(), _how_many(col(PledgeRound.by_bot).is_(True)))
            .where(*first).group_by(PledgeRound.category)):
        result.requests += count
        result.answered_by_bot += int(by_bot or 0)
        result.by_category.append(Count(category, CATEGORY_LABELS.get(category, category), count))
    result.by_category.sort(key=lambda c: (-c.count, c.key))

    result.asked_nothing = session.exec(select(func.count()).select_from(PledgeRound).where(
        *tickets_opened(period, scope, tz), col(PledgeRound.ticket_id).in_(asked_nothing()))).one()
    made_by_staff = select(UnticketedLine.ticket_id).where(col(UnticketedLine.ticket_id).is_not(None))
    result.ticketed_by_staff = session.exec(select(func.count()).select_from(PledgeRound).where(
        *first, col(PledgeRound.ticket_id).in_(made_by_staff.scalar_subquery()))).one()
    handed = handed_over_tickets(period, tz)
    result.handed_over = session.exec(select(func.count()).select_from(PledgeRound).where(
        *first, col(PledgeRound.by_bot).is_(True), col(PledgeRound.ticket_id).in_(handed))).one()

    day = local_day(session, table_of(PledgeRound).c.started_at, tz, period.first)
    per_day = dict(session.exec(select(day, func.count()).where(*first).group_by(day)).all())
    result.by_day = [(d, per_day.get(d.isoformat(), 0), is_workday(d)) for d in period.days()]

    entry_rows = session.exec(
        select(Ticket.knowledge_entry_id, func.count(),
               _how_many(col(Ticket.id).in_(handed)))
        .join(PledgeRound, col(PledgeRound.ticket_id) == Ticket.id)
        .where(*first, col(PledgeRound.by_bot).is_(True))
        .group_by(col(Ticket.knowledge_entry_id))
        .order_by(func.count().desc(), col(Ticket.knowledge_entry_id)).limit(TOP))
    result.entries = [Count(entry or "", entry or "", count, int(bad or 0)) for entry, count, bad in entry_rows]

    # what a person had to answer: never answered by the bot, or handed over after its answer
    needed_person = (col(PledgeRound.by_bot).is_(False)) | col(PledgeRound.ticket_id).in_(handed)
    question_rows = session.exec(
        select(Ticket.text, func.count(), func.max(Ticket.id), _how_many(col(PledgeRound.by_bot).is_(True)))
        .join(PledgeRound, col(PledgeRound.ticket_id) == Ticket.id)
        .where(*first, needed_person, PledgeRound.category != Category.COMPLAINT)
        .group_by(Ticket.text).order_by(func.count().desc(), func.max(Ticket.id).desc()).limit(TOP))
    result.questions = [Question(text, count, last or 0, int(bad or 0)) for text, count, last, bad in question_rows]

    result.interest = _interest(session, period, scope, tz)
    return result


def _how_many(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of a group meet the condition (a boolean's sum, the same on both databases)."""
    return func.sum(case((condition, 1), else_=0))


def _interest(session: Session, period: Period, scope: Scope, tz: ZoneInfo) -> list[Count]:
    """Retailers' interest in supply notices and launches, by product and kind (a person has none)."""
    if scope.staff_id is not None:
        return []
    start, end = period.bounds(tz)
    query = (select(Interest.subject, Interest.kind, Product.name, func.count())
             .outerjoin(Product, col(Product.id) == Interest.product_id)
             .where(col(Interest.created_at) >= start, col(Interest.created_at) < end))
    if scope.chat_group_id is not None:
        query = query.where(Interest.chat_group_id == scope.chat_group_id)
    if scope.district is not None:
        query = query.join(ChatGroup, col(ChatGroup.id) == Interest.chat_group_id).where(
            ChatGroup.district == scope.district)
    rows = session.exec(query.group_by(Interest.subject, Interest.kind, Product.name)
                        .order_by(func.count().desc()).limit(TOP)).all()
    return [Count(f"{subject}:{kind}", f"{SUBJECT_LABELS.get(subject, subject)} · {product or '未指明品规'} · "
                  f"{INTEREST_LABELS.get(kind, kind)}", count) for subject, kind, product, count in rows]
