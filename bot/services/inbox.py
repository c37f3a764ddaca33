"""The agents' inbox: tickets in the views staff work from, each with its reply clock in business time.

Read only: it writes nothing. Which tickets a member sees is `access.tickets_visible`, the same rule
as the API's ticket list; texts are masked for the service view as the API masks them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy import select as select_columns
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, select

from bot.models import ChatGroup, Pledge, PledgeKind, PledgeState, Retailer, StaffMember, Ticket, TicketStatus
from bot.policy import Policies
from bot.services import access


class InboxView(StrEnum):
    MINE = "mine"
    UNASSIGNED = "unassigned"
    DUE_SOON = "due_soon"
    BREACHED = "breached"
    OPEN = "open"
    CLOSED = "closed"


VIEW_NAMES = {InboxView.MINE: "我的", InboxView.UNASSIGNED: "未分配", InboxView.DUE_SOON: "即将超时",
              InboxView.BREACHED: "已超时", InboxView.OPEN: "进行中", InboxView.CLOSED: "已关闭"}


class Clock(StrEnum):
    """How the reply pledge stands, as the inbox colours it."""

    RUNNING = "running"
    WARNED = "warned"  # past its warning point: amber
    BREACHED = "breached"  # past due: red
    PAUSED = "paused"
    MET = "met"
    STOPPED = "stopped"  # cancelled or not applicable
    NONE = "none"


@dataclass(frozen=True)
class InboxFilter:
    group_id: int | None = None
    district: str | None = None
    category: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    q: str | None = None


@dataclass(frozen=True)
class InboxRow:
    ticket_id: int
    group_name: str | None
    who: str  # the store, or the sender's nickname when unbound
    bound: bool
    category: str
    status: str
    latest: str  # the first line of the latest request
    assignee: str | None
    due_at: datetime | None
    clock: Clock
    remaining: timedelta | None  # business time to due (negative: overdue), while it runs
    created_at: datetime


_Owner = aliased(StaffMember)


def _view_condition(view: InboxView, staff: StaffMember, now: datetime) -> ColumnElement[bool]:
    running = col(Pledge.state) == PledgeState.PENDING
    not_closed = col(Ticket.status) != TicketStatus.CLOSED
    match view:
        case InboxView.MINE:
            return and_(not_closed, col(Pledge.owner_staff_id) == staff.id)
        case InboxView.UNASSIGNED:
            return and_(not_closed, running, col(Pledge.owner_staff_id).is_(None))
        case InboxView.DUE_SOON:
            return and_(running, col(Pledge.paused_at).is_(None), col(Pledge.warn_at) <= now,
                        col(Pledge.due_at) > now)
        case InboxView.BREACHED:
            return and_(running, col(Pledge.paused_at).is_(None), col(Pledge.due_at) <= now)
        case InboxView.OPEN:
            return not_closed
        case InboxView.CLOSED:
            return col(Ticket.status) == TicketStatus.CLOSED


def _filter_conditions(flt: InboxFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if flt.group_id:
        conditions.append(col(Ticket.chat_group_id) == flt.group_id)
    if flt.district:
        conditions.append(or_(col(Retailer.district) == flt.district, col(ChatGroup.district) == flt.district))
    if flt.category:
        conditions.append(col(Ticket.category) == flt.category)
    if flt.created_from:
        conditions.append(col(Ticket.created_at) >= flt.created_from)
    if flt.created_to:
        conditions.append(col(Ticket.created_at) < flt.created_to)
    if flt.q:
        conditions.append(or_(col(Ticket.text).contains(flt.q), col(Ticket.latest_text).contains(flt.q),
                              col(Retailer.store_name).contains(flt.q), col(Ticket.sender_name).contains(flt.q)))
    return conditions


def clock_of(pledge: Pledge | None, now: datetime) -> Clock:
    if pledge is None:
        return Clock.NONE
    if pledge.state == PledgeState.MET:
        return Clock.MET
    if pledge.state == PledgeState.PAUSED:  # a paused pledge is not stopped: it resumes with its time left
        return Clock.PAUSED
    if pledge.state != PledgeState.PENDING:
        return Clock.STOPPED
    if pledge.due_at is not None and pledge.due_at <= now:
        return Clock.BREACHED
    if pledge.warn_at is not None and pledge.warn_at <= now:
        return Clock.WARNED
    return Clock.RUNNING


def remaining(pledge: Pledge | None, now: datetime, policies: Policies, tz: ZoneInfo) -> timedelta | None:
    """Business time from now to the pledge's due time (negative once past it), while its clock runs."""
    if pledge is None or pledge.due_at is None or clock_of(pledge, now) in (Clock.MET, Clock.STOPPED,
                                                                              Clock.PAUSED, Clock.NONE):
        return None
    calendar = policies.calendar(pledge.kind, tz)
    if pledge.due_at > now:
        return calendar.elapsed(now, pledge.due_at)
    return -calendar.elapsed(pledge.due_at, now)


def list_inbox(session: Session, staff: StaffMember, view: InboxView, flt: InboxFilter, *, now: datetime,
               policies: Policies, tz: ZoneInfo, offset: int, limit: int,
               public_numbers: Collection[str]) -> tuple[int, list[InboxRow]]:
    """The view's tickets the member may see, soonest due first (closed ones: latest closed first)."""
    conditions = [access.tickets_visible(staff), _view_condition(view, staff, now), *_filter_conditions(flt)]
    joined = (select_columns(Ticket, Pledge, col(ChatGroup.name), col(Retailer.store_name), col(_Owner.name))
                   .outerjoin(Pledge, and_(col(Pledge.ticket_id) == Ticket.id, col(Pledge.kind) == PledgeKind.REPLY))
                   .outerjoin(ChatGroup, col(ChatGroup.id) == Ticket.chat_group_id)
                   .outerjoin(Retailer, col(Retailer.id) == Ticket.retailer_id)
                   .outerjoin(_Owner, col(_Owner.id) == Pledge.owner_staff_id))
    count = (select(func.count()).select_from(Ticket)
             .outerjoin(Pledge, and_(col(Pledge.ticket_id) == Ticket.id, col(Pledge.kind) == PledgeKind.REPLY))
             .outerjoin(ChatGroup, col(ChatGroup.id) == Ticket.chat_group_id)
             .outerjoin(Retailer, col(Retailer.id) == Ticket.retailer_id))
    total = session.exec(count.where(*conditions)).one()
    order: list[ColumnElement[Any]]
    if view == InboxView.CLOSED:
        order = [col(Ticket.closed_at).desc(), col(Ticket.id).desc()]
    else:  # tickets without a running clock after those with one
        order = [col(Pledge.due_at).is_(None), col(Pledge.due_at).asc(), col(Ticket.id).asc()]
    found = session.execute(joined.where(*conditions).order_by(*order).offset(offset).limit(limit)).all()
    views = access.ticket_views(session, staff, [ticket.id for ticket, *_ in found])
    rows = []
    for ticket, pledge, group_name, store_name, owner_name in found:
        latest = access.shown_text(ticket.latest_text or ticket.text, views[ticket.id], public_numbers) or ""
        rows.append(InboxRow(
            ticket_id=ticket.id, group_name=group_name, who=store_name or ticket.sender_name or ticket.sender_user_id,
            bound=ticket.retailer_id is not None, category=ticket.category, status=ticket.status,
            latest=latest.strip().splitlines()[0] if latest.strip() else "", assignee=owner_name,
            due_at=pledge.due_at if pledge else None, clock=clock_of(pledge, now),
            remaining=remaining(pledge, now, policies, tz), created_at=ticket.created_at))
    return total, rows
