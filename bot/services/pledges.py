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

from sqlmodel import Session, col, select

from bot import texts
from bot.models import (
    AuthorKind,
    ChatGroup,
    OutboxMessage,
    Pledge,
    PledgeState,
    Role,
    StaffMember,
    Ticket,
    TicketEvent,
    TicketMessage,
)
from bot.policy import Policies
from bot.services import outbox

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
    for pledge in due:
        _advance(session, pledge, now, policies, tz, result)
    return result


def _advance(session: Session, pledge: Pledge, now: datetime, policies: Policies, tz: ZoneInfo,
             result: SweepResult) -> None:
    ticket = session.get(Ticket, pledge.ticket_id)
    calendar = policies.calendar(pledge.kind, tz)
    ladder = policies.pledges[pledge.kind].ladder
    notice = _Notifier(session, pledge, ticket, now, policies)

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
            _event(session, ticket.id, now, "pledge_breached", kind=pledge.kind)
            result.breaches += 1
        while pledge.escalation_level < len(ladder):
            step = ladder[pledge.escalation_level]
            if now < calendar.add(pledge.due_at, step.after.on(calendar)):
                break
            pledge.escalation_level += 1
            overdue = calendar.elapsed(pledge.due_at, now)
            notice.send(step.notify, f"level{pledge.escalation_level}",
                        texts.pledge_escalated(ticket.id, pledge.kind, pledge.escalation_level, overdue))
            _event(session, ticket.id, now, "pledge_escalated", kind=pledge.kind,
                   level=pledge.escalation_level, to=step.notify)
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


class _Notifier:
    """Writes a pledge's notifications to the outbox, once per recipient and key."""

    def __init__(self, session: Session, pledge: Pledge, ticket: Ticket, now: datetime,
                 policies: Policies) -> None:
        self.session, self.pledge, self.ticket, self.now, self.policies = session, pledge, ticket, now, policies

    def _staff(self, *roles: str) -> list[StaffMember]:
        members = self.session.exec(select(StaffMember).where(StaffMember.active)).all()
        return [m for m in members if m.chat_user_id and m.has_role(*roles)]

    def _recipients(self, target: str) -> list[tuple[str, str]]:
        """(target kind, chat id) pairs for a ladder target."""
        if target == "owner" and self.pledge.owner_staff_id:
            owner = self.session.get(StaffMember, self.pledge.owner_staff_id)
            if owner and owner.active and owner.chat_user_id:
                return [("private", owner.chat_user_id)]
        if target in ("owner", "agents_group"):
            if self.policies.agents_group_id:
                return [("group", self.policies.agents_group_id)]
            role = {"reply": Role.AGENT, "visit": Role.MANAGER, "callback": Role.CALLBACK}[self.pledge.kind]
            return [("private", m.chat_user_id) for m in self._staff(role)]
        role = {"supervisors": Role.SUPERVISOR, "admins": Role.ADMIN}[target]
        return [("private", m.chat_user_id) for m in self._staff(role)]

    def _enqueue(self, key: str, **message) -> None:
        if self.session.exec(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)).first():
            return
        outbox.enqueue(self.session, now=self.now, dedupe_key=key, ticket_id=self.ticket.id, **message)

    def send(self, target: str, what: str, text: str) -> None:
        base = f"pledge:{self.pledge.id}:{what}"
        for kind, chat_id in self._recipients(target):
            self._enqueue(f"{base}:{kind}:{chat_id}", platform=STAFF_PLATFORM, target_kind=kind,
                          target_id=chat_id, text=text)

    def apologise(self) -> None:
        group = self.session.get(ChatGroup, self.ticket.chat_group_id)
        first = self.session.exec(
            select(TicketMessage.message_id)
            .where(TicketMessage.ticket_id == self.ticket.id, TicketMessage.author_kind == AuthorKind.RETAILER)
            .order_by(col(TicketMessage.id))
        ).first()
        self._enqueue(f"pledge:{self.pledge.id}:apology", platform=group.platform, bot_id=group.bot_id,
                      target_kind="group", target_id=group.group_id, reply_to=first,
                      text=texts.reply_apology(self.ticket.id))


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
