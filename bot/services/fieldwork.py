"""The field's work lists: the account managers' visit tasks and the callback staff's calls.

Read only, but for `record_visit` and `record_call`, which check that the task is the member's to
see and then record through `pledges` (the one writer of visit and callback records). A manager sees
the visits they own; supervisors and admins every open visit. Callback staff (and supervisors and
admins) see every callback waiting, with what they need to call: store, phone, the request, who
replied and who visited, and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from bot import texts
from bot.models import (
    CallbackRecord,
    Pledge,
    PledgeKind,
    PledgeState,
    Retailer,
    Role,
    StaffMember,
    Ticket,
    TicketEvent,
    TicketStatus,
    VisitRecord,
)
from bot.policy import Policies
from bot.services import access, pledges, tickets
from bot.services.errors import NotFound

LIST_LIMIT = 200


@dataclass(frozen=True)
class VisitTask:
    pledge: Pledge
    ticket: Ticket
    retailer: Retailer | None
    owner: str | None  # the account manager who owns it (None: not given to anyone yet)
    note: str | None  # why a visit is needed: the note given when it was ordered


@dataclass(frozen=True)
class Done:
    """Who met a pledge, and when."""

    who: str
    at: datetime


@dataclass(frozen=True)
class CallTask:
    pledge: Pledge
    ticket: Ticket
    retailer: Retailer | None
    replied: Done | None
    visited: Done | None  # the latest visit made, if any
    visit_outcome: str | None
    visit_met: bool  # the visit pledge is met: the retailer may be asked to confirm it
    tries: int  # unreachable calls in this round
    limit: int  # unreachable calls before the callback is given up (policies.callback_attempts)
    calls: list[CallbackRecord]  # every call recorded on the ticket, oldest first


def _sees_every_task(staff: StaffMember) -> bool:
    return staff.has_role(Role.SUPERVISOR, Role.ADMIN)


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(select(StaffMember.id, StaffMember.name).where(col(StaffMember.id).in_(wanted)))
    return {staff_id: name for staff_id, name in rows if staff_id is not None}


def _retailers(session: Session, tickets_: list[Ticket]) -> dict[int, Retailer]:
    ids = {t.retailer_id for t in tickets_ if t.retailer_id is not None}
    if not ids:
        return {}
    return {r.id: r for r in session.exec(select(Retailer).where(col(Retailer.id).in_(ids))) if r.id is not None}


def _visit_notes(session: Session, pairs: list[tuple[Pledge, Ticket]]) -> dict[int, str | None]:
    """The note of each ticket's latest `visit_needed` event (why the visit was ordered)."""
    ids = [p.ticket_id for p, _ in pairs]
    notes: dict[int, str | None] = {}
    if not ids:
        return notes
    events = session.exec(select(TicketEvent).where(col(TicketEvent.ticket_id).in_(ids),
                                                     TicketEvent.action == "visit_needed")
                          .order_by(col(TicketEvent.at), col(TicketEvent.id)))
    for event in events:
        notes[event.ticket_id] = event.detail.get("note")
    return notes


def _visit_tasks(session: Session, pairs: list[tuple[Pledge, Ticket]]) -> list[VisitTask]:
    retailers = _retailers(session, [t for _, t in pairs])
    names = _names(session, {p.owner_staff_id for p, _ in pairs})
    notes = _visit_notes(session, pairs)
    return [VisitTask(pledge, ticket, retailers.get(ticket.retailer_id or 0),
                      names.get(pledge.owner_staff_id or 0), notes.get(pledge.ticket_id))
            for pledge, ticket in pairs]


def _visits_of(staff: StaffMember) -> list[ColumnElement[bool]]:
    """The condition on `Pledge` for the visits the member works on."""
    conditions: list[ColumnElement[bool]] = [col(Pledge.kind) == PledgeKind.VISIT]
    if not _sees_every_task(staff):
        conditions.append(col(Pledge.owner_staff_id) == staff.id)
    return conditions


def visit_tasks(session: Session, staff: StaffMember) -> list[VisitTask]:
    """The open visits the member has to make (a supervisor or admin: every open visit), due first."""
    pairs = session.exec(
        select(Pledge, Ticket).join(Ticket, col(Ticket.id) == Pledge.ticket_id)
        .where(*_visits_of(staff), col(Pledge.state).in_(pledges.RUNNING))
        .order_by(col(Pledge.due_at), col(Pledge.id)).limit(LIST_LIMIT)).all()
    return _visit_tasks(session, [(p, t) for p, t in pairs])


def visit_task(session: Session, staff: StaffMember, ticket_id: int) -> VisitTask:
    """One ticket's visit, open or done, when it is the member's; otherwise not found, as if there
    were no such ticket (another manager's visit cannot be probed)."""
    found = session.exec(
        select(Pledge, Ticket).join(Ticket, col(Ticket.id) == Pledge.ticket_id)
        .where(*_visits_of(staff), col(Pledge.ticket_id) == ticket_id)).first()
    if found is None:
        raise NotFound(f"工单 #{ticket_id} 不存在或没有你的上门任务")
    return _visit_tasks(session, [found])[0]


def record_visit(session: Session, ticket_id: int, staff: StaffMember, *, action: str, notes: str | None,
                 outcome: str | None, photo_url: str | None, visited_at: datetime | None, now: datetime,
                 policies: Policies, tz: ZoneInfo) -> VisitRecord:
    """The member's visit was made: recorded by `pledges.record_visit` once it is theirs to record."""
    visit_task(session, staff, ticket_id)
    return pledges.record_visit(session, ticket_id, staff, action=action, notes=notes, visited_at=visited_at,
                                outcome=outcome, photo_url=photo_url, now=now, policies=policies, tz=tz)


# -- callbacks ---------------------------------------------------------------------------------

def _call_tasks(session: Session, pairs: list[tuple[Pledge, Ticket]], policies: Policies) -> list[CallTask]:
    if not pairs:
        return []
    ids = [p.ticket_id for p, _ in pairs]
    retailers = _retailers(session, [t for _, t in pairs])
    kept = list(session.exec(select(Pledge).where(col(Pledge.ticket_id).in_(ids),
                                                  col(Pledge.kind).in_([PledgeKind.REPLY, PledgeKind.VISIT]))))
    visits = list(session.exec(select(VisitRecord).where(col(VisitRecord.ticket_id).in_(ids))
                               .order_by(col(VisitRecord.visited_at), col(VisitRecord.id))))
    calls = list(session.exec(select(CallbackRecord).where(col(CallbackRecord.ticket_id).in_(ids))
                              .order_by(col(CallbackRecord.recorded_at), col(CallbackRecord.id))))
    names = _names(session, {p.met_by_staff_id for p in kept} | {v.staff_id for v in visits})
    replies = {p.ticket_id: p for p in kept if p.kind == PledgeKind.REPLY}
    visits_met = {p.ticket_id for p in kept if p.kind == PledgeKind.VISIT and p.state == PledgeState.MET}
    last_visit = {v.ticket_id: v for v in visits}
    tasks = []
    for pledge, ticket in pairs:
        reply = replies.get(ticket.id or 0)
        replied = (Done(names.get(reply.met_by_staff_id or 0, "客服"), reply.met_at)
                   if reply is not None and reply.state == PledgeState.MET and reply.met_at else None)
        visit = last_visit.get(ticket.id or 0)
        visited = Done(names.get(visit.staff_id, "客户经理"), visit.visited_at) if visit else None
        round_calls = [c for c in calls if c.ticket_id == ticket.id]
        started = pledge.started_at
        tries = sum(1 for c in round_calls if not c.reached and (started is None or c.recorded_at >= started))
        tasks.append(CallTask(pledge, ticket, retailers.get(ticket.retailer_id or 0), replied, visited,
                              visit.outcome if visit else None, ticket.id in visits_met, tries,
                              policies.callback_attempts, round_calls))
    return tasks


def call_tasks(session: Session, staff: StaffMember, *, policies: Policies) -> list[CallTask]:
    """Every callback waiting to be made, due first."""
    pairs = session.exec(
        select(Pledge, Ticket).join(Ticket, col(Ticket.id) == Pledge.ticket_id)
        .where(col(Pledge.kind) == PledgeKind.CALLBACK, col(Pledge.state).in_(pledges.RUNNING),
               access.tickets_visible(staff))
        .order_by(col(Pledge.due_at), col(Pledge.id)).limit(LIST_LIMIT)).all()
    return _call_tasks(session, [(p, t) for p, t in pairs], policies)


def call_task(session: Session, staff: StaffMember, ticket_id: int, *, policies: Policies) -> CallTask:
    """One ticket's callback, waiting or done; not found when the member may not see it."""
    found = session.exec(
        select(Pledge, Ticket).join(Ticket, col(Ticket.id) == Pledge.ticket_id)
        .where(col(Pledge.kind) == PledgeKind.CALLBACK, col(Pledge.ticket_id) == ticket_id,
               access.tickets_visible(staff))).first()
    if found is None:
        raise NotFound(f"工单 #{ticket_id} 不存在或没有回访任务")
    return _call_tasks(session, [found], policies)[0]


@dataclass(frozen=True)
class CallRecorded:
    record: CallbackRecord
    message: str  # what the page says after saving


def record_call(session: Session, ticket_id: int, staff: StaffMember, *, reached: bool, score: int | None,
                reply_in_time: bool | None, visit_happened: bool | None, items: pledges.Items,
                comment: str | None, now: datetime, policies: Policies, tz: ZoneInfo) -> CallRecorded:
    """One call, recorded by `pledges.record_callback`, and what it led to, in words."""
    call_task(session, staff, ticket_id, policies=policies)
    record = pledges.record_callback(session, ticket_id, staff, reached=reached, score=score,
                                     reply_in_time=reply_in_time, visit_happened=visit_happened, comment=comment,
                                     items=items, now=now, policies=policies, tz=tz)
    pledge = pledges.one(session, ticket_id, PledgeKind.CALLBACK)
    assert pledge is not None, "a callback was just recorded on it"
    if not reached:
        tries = pledges.unreachable_tries(session, pledge)
        if pledge.state == PledgeState.NOT_APPLICABLE:
            return CallRecorded(record, f"工单 #{ticket_id}：第 {tries} 次未接通，已达上限 "
                                        f"{policies.callback_attempts} 次，回访记为不适用（{texts.UNREACHABLE}）")
        return CallRecorded(record, f"工单 #{ticket_id}：未接通，已记录第 {tries} 次"
                                    f"（最多 {policies.callback_attempts} 次），请稍后再拨")
    if score is not None and score <= pledges.LOW_SCORE:
        return CallRecorded(record, f"工单 #{ticket_id} 评分 {score} 分：工单已重新打开，回复承诺重新计时，已通知主管")
    closed = tickets.get(session, ticket_id).status == TicketStatus.CLOSED
    return CallRecorded(record, f"工单 #{ticket_id} 回访已记录（{score} 分），回访承诺已兑现"
                                + ("，工单已办结" if closed else ""))
