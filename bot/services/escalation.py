"""The sweep: warns before a pledge falls due, reports the breach and escalates up the ladder.

It reads only pledges whose `next_check_at` has come, claims them with
`FOR UPDATE SKIP LOCKED` (two service instances never take the same one),
moves each along its clock through the pledge service, and addresses the
notices through the notice service, all in one transaction. Each notice has
a unique key per pledge round, step and recipient: it goes out once, across
instances and restarts, and is dropped at send time if the pledge was kept
meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot import texts
from bot.models import Lane, Pledge, PledgeKind, PledgeState, Ticket, due_of, id_of
from bot.policy import Policies
from bot.services import ledger, notices, pledges
from bot.services.pledges import StepKind


@dataclass
class SweepResult:
    examined: int = 0
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0


def sweep(session: Session, *, now: datetime, policies: Policies, tz: ZoneInfo, limit: int = 500) -> SweepResult:
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
    by_id = {t.id: t for t in session.exec(select(Ticket).where(col(Ticket.id).in_({p.ticket_id for p in due})))}
    batch = notices.Batch(session, now, policies, tz)
    for pledge in due:
        ticket = by_id[pledge.ticket_id]
        for step in pledges.advance(session, pledge, now=now, policies=policies, tz=tz):
            _announce(batch, pledge, ticket, step, result)
    batch.flush()
    return result


def _announce(batch: notices.Batch, pledge: Pledge, ticket: Ticket, step: pledges.Step, result: SweepResult) -> None:
    ctx, now, tz = batch.context(ticket), batch.now, batch.tz
    assert tz is not None, "the sweep's batch is made with the time zone its notices are written in"
    if step.kind == StepKind.WARN:
        batch.about_pledge(pledge, ticket, "owner", "warn", "warning", texts.pledge_warning(
            id_of(ticket), ctx.who, ctx.request, pledge.kind, due_of(pledge), now, tz), lane=Lane.STAFF)
        batch.event(id_of(ticket), "pledge_warned", kind=pledge.kind, owner_staff_id=pledge.owner_staff_id)
        result.warnings += 1
    elif step.kind == StepKind.BREACH:
        batch.about_pledge(pledge, ticket, "owner", "breach", "breach", texts.pledge_breached(
            id_of(ticket), ctx.who, ctx.request, pledge.kind, due_of(pledge), now, tz), lane=Lane.ESCALATION,
            kind="escalation")
        if pledge.kind == PledgeKind.REPLY and batch.policies.apologise_in_group:
            batch.apologise(pledge, ticket)
        charged_to = ledger.charged_to(batch.session, pledge, batch.policies.agents_on_duty)
        ledger.breached(batch.session, pledge, charged_to=charged_to, now=now)
        batch.event(id_of(ticket), "pledge_breached", kind=pledge.kind, owner_staff_id=pledge.owner_staff_id,
                    attributed_to=charged_to)
        result.breaches += 1
    else:
        owner = batch.staff_member(pledge.owner_staff_id) if pledge.owner_staff_id else None
        batch.about_pledge(pledge, ticket, step.notify, f"level{step.level}", "escalation", texts.pledge_escalated(
            id_of(ticket), ctx.who, ctx.request, pledge.kind, step.level, step.overdue, owner.name if owner else None),
            lane=Lane.ESCALATION, kind="escalation")
        batch.event(id_of(ticket), "pledge_escalated", kind=pledge.kind, level=step.level, to=step.notify)
        result.escalations += 1
