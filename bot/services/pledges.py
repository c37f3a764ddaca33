"""The three pledges' clocks: warn before, notify on breach, escalate up a ladder.

The sweep reads only pledges whose `next_check_at` has come, claims them with
`FOR UPDATE SKIP LOCKED` (two service instances never take the same one), and
in the same transaction writes its notifications to the outbox under a
unique key per ticket, pledge, kind and level: each goes out exactly once,
across instances and restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlmodel import Session, col, func, select

from bot import texts
from bot.models import (
    AuthorKind,
    CallbackRecord,
    ChatGroup,
    Lane,
    Pledge,
    PledgeKind,
    PledgeState,
    Retailer,
    Role,
    StaffMember,
    Ticket,
    TicketEvent,
    TicketMessage,
    TicketStatus,
    VisitRecord,
)
from bot.policy import Policies
from bot.services import outbox
from bot.services.errors import NotFound, ServiceError

STAFF_PLATFORM = "qq"  # staff are reached on QQ, whichever chat the ticket came from


@dataclass(frozen=True)
class Clock:
    due_at: datetime
    warn_at: datetime


def clock_for(policies: Policies, kind: str, category: str, start: datetime, tz: ZoneInfo) -> Clock:
    """When a pledge started now falls due, and when its owner is warned."""
    calendar = policies.calendar(kind, tz)
    due = policies.deadline(kind, category, start, tz)
    budget = calendar.elapsed(start, due)
    return Clock(due_at=due, warn_at=calendar.add(start, budget * policies.pledges[kind].warn_at))


@dataclass
class SweepResult:
    examined: int = 0
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0


def sweep(session: Session, *, now: datetime, policies: Policies, tz: ZoneInfo,
          limit: int = 500) -> SweepResult:
    """Advance every pledge whose next check has come."""
    due = session.exec(
        select(Pledge)
        .where(Pledge.state == PledgeState.PENDING, col(Pledge.next_check_at) <= now)
        .order_by(col(Pledge.next_check_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    result = SweepResult(examined=len(due))
    if not due:
        return result
    ticket_ids = {p.ticket_id for p in due}
    outgoing = _Outgoing(session, now, ticket_ids)
    tickets = {t.id: t for t in session.exec(select(Ticket).where(col(Ticket.id).in_(ticket_ids)))}
    for pledge in due:
        _advance(session, pledge, tickets[pledge.ticket_id], now, policies, tz, result, outgoing)
    outgoing.write()
    return result


def _advance(session: Session, pledge: Pledge, ticket: Ticket, now: datetime, policies: Policies,
             tz: ZoneInfo, result: SweepResult, outgoing: _Outgoing) -> None:
    calendar = policies.calendar(pledge.kind, tz)
    ladder = policies.pledges[pledge.kind].ladder
    notice = _Notifier(outgoing, pledge, ticket, policies)

    if pledge.warned_at is None and pledge.warn_at and pledge.warn_at <= now < pledge.due_at:
        notice.send("owner", "warn", texts.pledge_warning(ticket.id, pledge.kind, pledge.due_at, now, tz))
        pledge.warned_at = now
        result.warnings += 1
    if now >= pledge.due_at:
        if pledge.breached_at is None:
            pledge.breached_at = now
            notice.send("owner", "breach", texts.pledge_breached(ticket.id, pledge.kind, pledge.due_at, now, tz))
            if pledge.kind == "reply" and policies.apologise_in_group:
                notice.apologise()
            outgoing.event(ticket.id, "pledge_breached", kind=pledge.kind)
            result.breaches += 1
        while pledge.escalation_level < len(ladder):
            step = ladder[pledge.escalation_level]
            if now < calendar.add(pledge.due_at, step.after.on(calendar)):
                break
            pledge.escalation_level += 1
            overdue = calendar.elapsed(pledge.due_at, now)
            notice.send(step.notify, f"level{pledge.escalation_level}",
                        texts.pledge_escalated(ticket.id, pledge.kind, pledge.escalation_level, overdue))
            outgoing.event(ticket.id, "pledge_escalated", kind=pledge.kind, level=pledge.escalation_level,
                           to=step.notify)
            result.escalations += 1
    pledge.next_check_at = _next_check(pledge, calendar, ladder)
    session.add(pledge)


def _next_check(pledge: Pledge, calendar, ladder) -> datetime | None:
    """The next moment the sweep has work for this pledge, or None when the ladder is done."""
    if pledge.breached_at is None:
        if pledge.warned_at is None and pledge.warn_at and pledge.warn_at < pledge.due_at:
            return pledge.warn_at
        return pledge.due_at
    if pledge.escalation_level < len(ladder):
        return calendar.add(pledge.due_at, ladder[pledge.escalation_level].after.on(calendar))
    return None


def _event(session: Session, ticket_id: int, now: datetime, action: str, **detail) -> None:
    session.add(TicketEvent(ticket_id=ticket_id, at=now, actor_kind=AuthorKind.SYSTEM, action=action,
                            detail=detail))


class _Outgoing:
    """Notices and events of one unit of work, written together at the end.

    Keys already in the outbox are skipped (one query for all), so a notice
    goes out once even if a pledge is looked at again.
    """

    def __init__(self, session: Session, now: datetime, ticket_ids: set[int] = frozenset()) -> None:
        self.session, self.now, self.ticket_ids = session, now, ticket_ids
        self._first_messages: dict[int, str | None] | None = None
        self.messages: dict[str, dict] = {}
        self.events: list[dict] = []
        self._staff: list[StaffMember] | None = None
        self._groups: dict[int, ChatGroup] = {}

    def staff(self, *roles: str) -> list[StaffMember]:
        if self._staff is None:
            self._staff = [m for m in self.session.exec(select(StaffMember).where(StaffMember.active))
                           if m.chat_user_id]
        return [m for m in self._staff if m.has_role(*roles)]

    def staff_member(self, staff_id: int) -> StaffMember | None:
        return next((m for m in self.staff(*Role) if m.id == staff_id), None)

    def group(self, group_id: int) -> ChatGroup:
        if group_id not in self._groups:
            self._groups[group_id] = self.session.get(ChatGroup, group_id)
        return self._groups[group_id]

    def first_retailer_message(self, ticket_id: int) -> str | None:
        """The message an apology quotes; loaded for every ticket of the sweep at once."""
        if self._first_messages is None:
            self._first_messages = {}
            rows = self.session.exec(
                select(TicketMessage.ticket_id, TicketMessage.message_id)
                .where(col(TicketMessage.ticket_id).in_(self.ticket_ids or {ticket_id}),
                       TicketMessage.author_kind == AuthorKind.RETAILER)
                .order_by(col(TicketMessage.id).desc()))
            for owner, message_id in rows:  # newest first, so the oldest is written last
                self._first_messages[owner] = message_id
        return self._first_messages.get(ticket_id)

    def message(self, key: str, **row) -> None:
        self.messages.setdefault(key, row)

    def event(self, ticket_id: int, action: str, **detail) -> None:
        self.events.append({"ticket_id": ticket_id, "at": self.now, "actor_kind": AuthorKind.SYSTEM,
                            "actor_id": None, "action": action, "detail": detail})

    def write(self) -> None:
        connection = self.session.connection()
        outbox.enqueue_many(self.session, [{"lane": Lane.ESCALATION, **row, "dedupe_key": key}
                                           for key, row in self.messages.items()], now=self.now)
        if self.events:
            connection.execute(insert(TicketEvent.__table__), self.events)
        self.messages, self.events = {}, []


class _Notifier:
    """Addresses a pledge's notices: the owner, the agents' group, supervisors or admins."""

    def __init__(self, outgoing: _Outgoing, pledge: Pledge, ticket: Ticket, policies: Policies) -> None:
        self.outgoing, self.pledge, self.ticket, self.policies = outgoing, pledge, ticket, policies

    def _recipients(self, target: str) -> list[tuple[str, str]]:
        """(target kind, chat id) pairs for a ladder target."""
        if target == "owner" and self.pledge.owner_staff_id:
            owner = self.outgoing.staff_member(self.pledge.owner_staff_id)
            if owner is not None:
                return [("private", owner.chat_user_id)]
        if target in ("owner", "agents_group"):
            if self.policies.agents_group_id:
                return [("group", self.policies.agents_group_id)]
            role = {"reply": Role.AGENT, "visit": Role.MANAGER, "callback": Role.CALLBACK}[self.pledge.kind]
            return [("private", m.chat_user_id) for m in self.outgoing.staff(role)]
        role = {"supervisors": Role.SUPERVISOR, "admins": Role.ADMIN}[target]
        return [("private", m.chat_user_id) for m in self.outgoing.staff(role)]

    def send(self, target: str, what: str, text: str) -> None:
        base = f"pledge:{self.pledge.id}:{what}"
        for kind, chat_id in self._recipients(target):
            self.outgoing.message(f"{base}:{kind}:{chat_id}", platform=STAFF_PLATFORM, target_kind=kind,
                                  target_id=chat_id, text=text, ticket_id=self.ticket.id)

    def apologise(self) -> None:
        group = self.outgoing.group(self.ticket.chat_group_id)
        first = self.outgoing.first_retailer_message(self.ticket.id)
        self.outgoing.message(f"pledge:{self.pledge.id}:apology", platform=group.platform, bot_id=group.bot_id,
                              target_kind="group", target_id=group.group_id, reply_to=first,
                              text=texts.reply_apology(self.ticket.id), ticket_id=self.ticket.id)


def _notify(session: Session, pledge: Pledge, ticket: Ticket, now: datetime, policies: Policies,
            target: str, what: str, text: str) -> None:
    """One notice outside a sweep (a task, an alert), written at once."""
    outgoing = _Outgoing(session, now)
    _Notifier(outgoing, pledge, ticket, policies).send(target, what, text)
    outgoing.write()


def restart(session: Session, pledge: Pledge, *, category: str, now: datetime, policies: Policies,
            tz: ZoneInfo) -> None:
    """Start a pledge's clock again from now, as if just opened (a ticket handed back to a person)."""
    clock = clock_for(policies, pledge.kind, category, now, tz)
    pledge.state, pledge.met_at, pledge.met_by_staff_id = PledgeState.PENDING, None, None
    pledge.started_at, pledge.due_at, pledge.warn_at = now, clock.due_at, clock.warn_at
    pledge.warned_at = pledge.breached_at = None
    pledge.escalation_level = 0
    pledge.next_check_at = min(clock.warn_at, clock.due_at)
    session.add(pledge)


def pause(session: Session, pledge: Pledge, *, now: datetime, policies: Policies, tz: ZoneInfo) -> None:
    """Stop the clock while the ticket waits for the retailer, keeping the time left."""
    calendar = policies.calendar(pledge.kind, tz)
    pledge.remaining_seconds = calendar.elapsed(now, pledge.due_at).total_seconds()
    pledge.state, pledge.paused_at, pledge.next_check_at = PledgeState.PAUSED, now, None
    session.add(pledge)


def resume(session: Session, pledge: Pledge, *, now: datetime, policies: Policies, tz: ZoneInfo) -> None:
    """Restart the clock with the working time that was left when it paused."""
    calendar = policies.calendar(pledge.kind, tz)
    left = timedelta(seconds=pledge.remaining_seconds or 0)
    if pledge.warned_at is None and pledge.warn_at:
        warning_ahead = calendar.elapsed(pledge.warn_at, pledge.due_at)
        pledge.warn_at = calendar.add(now, max(left - warning_ahead, timedelta()))
    pledge.due_at = calendar.add(now, left)
    pledge.state, pledge.paused_at, pledge.remaining_seconds = PledgeState.PENDING, None, None
    pledge.next_check_at = _next_check(pledge, calendar, policies.pledges[pledge.kind].ladder)
    session.add(pledge)


# -- visits and callbacks -------------------------------------------------------------------

def _pledge(session: Session, ticket_id: int, kind: str) -> Pledge | None:
    return session.exec(select(Pledge).where(Pledge.ticket_id == ticket_id, Pledge.kind == kind)).first()


def start(session: Session, ticket: Ticket, kind: str, *, owner_role: str, owner_staff_id: int | None,
          now: datetime, policies: Policies, tz: ZoneInfo) -> Pledge:
    clock = clock_for(policies, kind, ticket.category, now, tz)
    pledge = Pledge(ticket_id=ticket.id, kind=kind, owner_role=owner_role, owner_staff_id=owner_staff_id,
                    due_at=clock.due_at, warn_at=clock.warn_at, next_check_at=min(clock.warn_at, clock.due_at),
                    started_at=now, created_at=now)
    session.add(pledge)
    session.flush()
    _event(session, ticket.id, now, "pledge_started", kind=kind, owner_staff_id=owner_staff_id)
    return pledge


def _open_ticket(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"工单 #{ticket_id} 不存在")
    if ticket.status == TicketStatus.CLOSED:
        raise ServiceError(f"工单 #{ticket_id} 已关闭")
    return ticket


def need_visit(session: Session, ticket_id: int, *, note: str | None, now: datetime, policies: Policies,
               tz: ZoneInfo, staff_id: int | None = None) -> Pledge:
    """Start the visit pledge and send the task to the retailer's own account manager."""
    ticket = _open_ticket(session, ticket_id)
    if existing := _pledge(session, ticket.id, PledgeKind.VISIT):
        return existing
    retailer = session.get(Retailer, ticket.retailer_id) if ticket.retailer_id else None
    manager_id = retailer.manager_id if retailer else None
    pledge = start(session, ticket, PledgeKind.VISIT, owner_role=Role.MANAGER, owner_staff_id=manager_id,
                   now=now, policies=policies, tz=tz)
    _event(session, ticket.id, now, "visit_needed", by_staff_id=staff_id, note=note)
    if manager_id:
        _notify(session, pledge, ticket, now, policies, "owner", "task",
                texts.visit_task(ticket, retailer, note, pledge.due_at, now, tz))
    else:  # no manager on record (or an unbound sender): a supervisor assigns it
        _notify(session, pledge, ticket, now, policies, "supervisors", "unassigned",
                texts.visit_unassigned(ticket.id, retailer is None))
    return pledge


def record_visit(session: Session, ticket_id: int, staff: StaffMember, *, action: str, notes: str | None,
                 visited_at: datetime | None, now: datetime, policies: Policies, tz: ZoneInfo) -> VisitRecord:
    ticket = session.get(Ticket, ticket_id)
    pledge = _pledge(session, ticket_id, PledgeKind.VISIT) if ticket else None
    if pledge is None or pledge.state not in (PledgeState.PENDING, PledgeState.PAUSED):
        raise ServiceError(f"工单 #{ticket_id} 没有待完成的上门任务")
    if pledge.owner_staff_id not in (None, staff.id) and not staff.has_role(Role.SUPERVISOR, Role.ADMIN):
        raise ServiceError(f"工单 #{ticket_id} 的上门任务属于另一位客户经理")
    record = VisitRecord(ticket_id=ticket_id, staff_id=staff.id, visited_at=visited_at or now, action=action,
                         notes=notes, recorded_at=now)
    session.add(record)
    _meet(session, pledge, staff.id, now)
    maybe_start_callback(session, ticket, now=now, policies=policies, tz=tz)
    return record


def record_visit_from_chat(session: Session, *, platform: str, chat_user_id: str, ticket_id: int,
                           action: str, now: datetime, policies: Policies, tz: ZoneInfo) -> str:
    """`上门 #12 …` in a manager's private chat; the answer says what happened."""
    staff = session.exec(select(StaffMember).where(StaffMember.chat_user_id == chat_user_id,
                                                   StaffMember.active)).first()
    if staff is None or not staff.has_role(Role.MANAGER, Role.SUPERVISOR, Role.ADMIN):
        return texts.VISIT_NOT_STAFF
    try:
        record_visit(session, ticket_id, staff, action=action, notes=None, visited_at=None, now=now,
                     policies=policies, tz=tz)
    except ServiceError as refused:
        return str(refused)
    return texts.VISIT_RECORDED.format(ticket_id=ticket_id)


def _meet(session: Session, pledge: Pledge, staff_id: int | None, now: datetime) -> None:
    pledge.state, pledge.met_at, pledge.met_by_staff_id, pledge.next_check_at = PledgeState.MET, now, staff_id, None
    session.add(pledge)
    _event(session, pledge.ticket_id, now, "pledge_met", kind=pledge.kind, by_staff_id=staff_id)


def maybe_start_callback(session: Session, ticket: Ticket, *, now: datetime, policies: Policies,
                         tz: ZoneInfo) -> Pledge | None:
    """Once the reply, and the visit if one is needed, are met, the district calls back."""
    session.flush()
    kept = {p.kind: p for p in session.exec(select(Pledge).where(Pledge.ticket_id == ticket.id))}
    reply, visit = kept.get(PledgeKind.REPLY), kept.get(PledgeKind.VISIT)
    if PledgeKind.CALLBACK in kept or reply is None or reply.state != PledgeState.MET:
        return None
    if visit is not None and visit.state != PledgeState.MET:
        return None
    pledge = start(session, ticket, PledgeKind.CALLBACK, owner_role=Role.CALLBACK, owner_staff_id=None,
                   now=now, policies=policies, tz=tz)
    _notify(session, pledge, ticket, now, policies, "owner", "task",
            texts.callback_task(ticket.id, pledge.due_at, now, tz))
    return pledge


def record_callback(session: Session, ticket_id: int, staff: StaffMember, *, reached: bool,
                    score: int | None, reply_in_time: bool | None, visit_happened: bool | None,
                    comment: str | None, now: datetime, policies: Policies, tz: ZoneInfo) -> CallbackRecord:
    """A satisfaction call. A score of 2 or lower reopens the ticket and tells the supervisors."""
    ticket = session.get(Ticket, ticket_id)
    pledge = _pledge(session, ticket_id, PledgeKind.CALLBACK) if ticket else None
    if pledge is None or pledge.state not in (PledgeState.PENDING, PledgeState.PAUSED):
        raise ServiceError(f"工单 #{ticket_id} 没有待回访的任务")
    kept_by = {p.met_by_staff_id for p in session.exec(select(Pledge).where(Pledge.ticket_id == ticket_id))
               if p.kind != PledgeKind.CALLBACK}
    if staff.id in kept_by:
        raise ServiceError("回访须由未参与回复和上门的人员进行")
    if reached and score is None:
        raise ServiceError("已联系上客户时必须填写满意度（1 到 5 分）")
    record = CallbackRecord(ticket_id=ticket_id, staff_id=staff.id, reached=reached,
                            score=score if reached else None, reply_in_time=reply_in_time,
                            visit_happened=visit_happened, comment=comment, recorded_at=now)
    session.add(record)
    session.flush()
    if not reached:
        tries = len(session.exec(select(CallbackRecord.id).where(CallbackRecord.ticket_id == ticket_id,
                                                                 CallbackRecord.reached == False)).all())  # noqa: E712
        _event(session, ticket_id, now, "callback_unreachable", attempt=tries)
        if tries >= policies.callback_attempts:
            pledge.state, pledge.next_check_at = PledgeState.CANCELLED, None
            session.add(pledge)
        return record
    _meet(session, pledge, staff.id, now)
    _event(session, ticket_id, now, "callback_recorded", score=score, reply_in_time=reply_in_time,
           visit_happened=visit_happened)
    if score <= 2:
        ticket.status, ticket.closed_at = TicketStatus.OPEN, None
        _event(session, ticket_id, now, "reopened", reason="low satisfaction", score=score)
        _notify(session, pledge, ticket, now, policies, "supervisors", f"low-score-{record.id}",
                texts.low_satisfaction(ticket_id, score, comment))
    else:
        ticket.status, ticket.closed_at = TicketStatus.CLOSED, now
        _event(session, ticket_id, now, "closed", reason="callback satisfied", score=score)
    ticket.updated_at = now
    session.add(ticket)
    return record


def list_pledges(session: Session, *, kind: str | None, state: str | None, owner_staff_id: int | None,
                 breached: bool | None, due_before: datetime | None, offset: int, limit: int
                 ) -> tuple[int, list[Pledge]]:
    conditions = []
    if kind:
        conditions.append(Pledge.kind == kind)
    if state:
        conditions.append(Pledge.state == state)
    if owner_staff_id is not None:
        conditions.append(Pledge.owner_staff_id == owner_staff_id)
    if breached is not None:
        conditions.append(col(Pledge.breached_at).is_not(None) if breached else col(Pledge.breached_at).is_(None))
    if due_before:
        conditions.append(col(Pledge.due_at) < due_before)
    total = session.exec(select(func.count()).select_from(Pledge).where(*conditions)).one()
    rows = session.exec(select(Pledge).where(*conditions).order_by(col(Pledge.due_at))
                        .offset(offset).limit(limit)).all()
    return total, list(rows)


def get(session: Session, pledge_id: int) -> Pledge:
    pledge = session.get(Pledge, pledge_id)
    if pledge is None:
        raise NotFound(f"承诺 {pledge_id} 不存在")
    return pledge


def reassign(session: Session, pledge_id: int, staff_id: int, *, now: datetime, policies: Policies,
             tz: ZoneInfo) -> Pledge:
    pledge = session.get(Pledge, pledge_id)
    owner = session.get(StaffMember, staff_id)
    if pledge is None:
        raise NotFound(f"承诺 {pledge_id} 不存在")
    if owner is None or not owner.active or pledge.owner_role not in owner.roles:
        raise ServiceError(f"员工 {staff_id} 不能承担这项任务（需要角色 {pledge.owner_role}）")
    pledge.owner_staff_id = owner.id
    session.add(pledge)
    ticket = session.get(Ticket, pledge.ticket_id)
    _event(session, ticket.id, now, "pledge_reassigned", kind=pledge.kind, to_staff_id=owner.id)
    if pledge.kind == PledgeKind.VISIT and pledge.state == PledgeState.PENDING:
        retailer = session.get(Retailer, ticket.retailer_id) if ticket.retailer_id else None
        _notify(session, pledge, ticket, now, policies, "owner", f"task-{owner.id}",
                texts.visit_task(ticket, retailer, None, pledge.due_at, now, tz))
    return pledge
