"""The three pledges of a ticket: the one writer of pledges, visit records and callback records.

Each pledge is a clock in business time with an owner: the reply belongs to
the agent who takes the ticket (or the agents' pool until then), the visit to
the retailer's account manager, the callback to the callback staff. Starting,
meeting, pausing, restarting and handing a pledge to someone all happen here;
who is told about it is the notice service's business, and the sweep that
warns and escalates lives in `escalation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, bindparam, insert
from sqlmodel import Session, col, func, select

from bot import texts
from bot.db import Prepared
from bot.models import (
    AuthorKind,
    CallbackRecord,
    Pledge,
    PledgeKind,
    PledgeRound,
    PledgeState,
    Retailer,
    Role,
    RoundOutcome,
    Satisfaction,
    StaffMember,
    Ticket,
    TicketStatus,
    VisitOutcome,
    VisitRecord,
    due_of,
    id_of,
    started_of,
    table_of,
)
from bot.policy import PledgeName, Policies
from bot.services import ledger, notices, tickets
from bot.services.errors import Conflict, NotFound, ServiceError

RUNNING = (PledgeState.PENDING, PledgeState.PAUSED)
KEPT = (PledgeState.MET, PledgeState.NOT_APPLICABLE)
_INSERT_PLEDGE = Prepared(insert(table_of(Pledge)).returning(table_of(Pledge).c.id))


@dataclass(frozen=True)
class Clock:
    due_at: datetime
    warn_at: datetime


def clock_for(policies: Policies, kind: str, category: str, start: datetime, tz: ZoneInfo) -> Clock:
    """When a pledge started now falls due, and when its owner is warned."""
    calendar = policies.calendar(kind, tz)
    due = policies.deadline(kind, category, start, tz)
    budget = calendar.elapsed(start, due)
    return Clock(due_at=due, warn_at=calendar.add(start, budget * policies.pledges[cast(PledgeName, kind)].warn_at))


def _event(session: Session, ticket_id: int, now: datetime, action: str, staff_id: int | None = None,
           **detail: object) -> None:
    actor = (AuthorKind.STAFF, str(staff_id)) if staff_id else (AuthorKind.SYSTEM, None)
    tickets.event(session, ticket_id, now, actor[0], actor[1], action, **detail)


def of_ticket(session: Session, ticket_id: int) -> dict[str, Pledge]:
    return {p.kind: p for p in session.exec(select(Pledge).where(Pledge.ticket_id == ticket_id))}


def one(session: Session, ticket_id: int, kind: str) -> Pledge | None:
    return session.exec(_ONE, params={"ticket_id": ticket_id, "kind": kind}).first()


_ONE = select(Pledge).where(col(Pledge.ticket_id) == bindparam("ticket_id"), col(Pledge.kind) == bindparam("kind"))


def get(session: Session, pledge_id: int) -> Pledge:
    pledge = session.get(Pledge, pledge_id)
    if pledge is None:
        raise NotFound(f"承诺 {pledge_id} 不存在")
    return pledge


# -- starting, meeting, stopping ---------------------------------------------------------------

def start_reply(session: Session, ticket_id: int, category: str, *, met: bool, now: datetime,
                policies: Policies, tz: ZoneInfo, chat_group_id: int | None, district: str | None) -> datetime:
    """The reply pledge of a new ticket, in the agents' pool; already met when the bot answered.
    `chat_group_id` and `district` are where the ticket is counted (the ledger's first round)."""
    clock = clock_for(policies, PledgeKind.REPLY, category, now, tz)
    _insert_first(session, ticket_id, PledgeKind.REPLY, clock, owner_role=Role.AGENT, owner_staff_id=None,
                  category=category, reason="opened", chat_group_id=chat_group_id, district=district, now=now,
                  met=met)
    return clock.due_at


def _insert_first(session: Session, ticket_id: int, kind: str, clock: Clock, *, owner_role: str,
                  owner_staff_id: int | None, category: str, reason: str, chat_group_id: int | None,
                  district: str | None, now: datetime, met: bool = False) -> int:
    """A pledge's row and its first round, two prebuilt inserts (intake's hot path: no ORM flush); its id."""
    pledge_id: int = _INSERT_PLEDGE.execute(session, {
        "ticket_id": ticket_id, "kind": kind, "owner_role": owner_role, "owner_staff_id": owner_staff_id,
        "state": PledgeState.MET if met else PledgeState.PENDING, "state_reason": None,
        "due_at": clock.due_at, "met_at": now if met else None, "met_by_staff_id": None, "created_at": now,
        "started_at": now, "warn_at": clock.warn_at, "warned_at": None, "breached_at": None,
        "escalation_level": 0, "next_check_at": None if met else min(clock.warn_at, clock.due_at),
        "paused_at": None, "remaining_seconds": None}).fetchone()[0]
    ledger.begin_first(session, pledge_id, ticket_id, kind, category=category, reason=reason,
                       chat_group_id=chat_group_id, district=district, owner_staff_id=owner_staff_id,
                       started_at=now, due_at=clock.due_at, met_by_bot=met)
    return pledge_id


def start(session: Session, ticket: Ticket, kind: str, *, owner_role: str, owner_staff_id: int | None,
          now: datetime, policies: Policies, tz: ZoneInfo, reason: str) -> Pledge:
    """A visit or callback pledge; a second round of one (after a reopening) restarts its row.
    `reason` is why its round starts, for the ledger."""
    return _start(session, ticket, one(session, id_of(ticket), kind), kind, owner_role=owner_role,
                  owner_staff_id=owner_staff_id, now=now, policies=policies, tz=tz, reason=reason)


def _start(session: Session, ticket: Ticket, pledge: Pledge | None, kind: str, *, owner_role: str,
           owner_staff_id: int | None, now: datetime, policies: Policies, tz: ZoneInfo, reason: str) -> Pledge:
    """`start`, given the ticket's pledge of that kind as it stands (None: none yet)."""
    if pledge is None:  # the first start: as a new ticket's reply pledge starts
        clock = clock_for(policies, kind, ticket.category, now, tz)
        pledge_id = _insert_first(session, id_of(ticket), kind, clock, owner_role=owner_role,
                                  owner_staff_id=owner_staff_id, category=ticket.category, reason=reason,
                                  chat_group_id=ticket.chat_group_id, district=ledger.district_of(session, ticket),
                                  now=now)
        pledge = get(session, pledge_id)
    else:
        pledge.owner_staff_id = owner_staff_id
        _restart_clock(pledge, ticket.category, now, policies, tz)
        session.add(pledge)
        session.flush()
        ledger.begin(session, pledge, ticket, reason=reason, calendar=policies.calendar(kind, tz), now=now)
    _event(session, id_of(ticket), now, "pledge_started", kind=kind, owner_staff_id=owner_staff_id)
    return pledge


def _restart_clock(pledge: Pledge, category: str, now: datetime, policies: Policies, tz: ZoneInfo) -> None:
    clock = clock_for(policies, pledge.kind, category, now, tz)
    pledge.state, pledge.state_reason, pledge.met_at, pledge.met_by_staff_id = PledgeState.PENDING, None, None, None
    pledge.started_at, pledge.due_at, pledge.warn_at = now, clock.due_at, clock.warn_at
    pledge.warned_at = pledge.breached_at = pledge.paused_at = None
    pledge.remaining_seconds = None
    pledge.escalation_level = 0
    pledge.next_check_at = min(clock.warn_at, clock.due_at)


def _breach_if_late(session: Session, pledge: Pledge, now: datetime, policies: Policies) -> None:
    """A pledge kept after its deadline before a sweep saw it: the breach is recorded now (no notices),
    charged as the pledge stood at its deadline (so call this before handing it to whoever keeps it)."""
    if pledge.state == PledgeState.PENDING and pledge.breached_at is None and now >= due_of(pledge):
        pledge.breached_at = now
        charged = ledger.charged_to(session, pledge, policies.agents_on_duty)
        ledger.breached(session, pledge, charged_to=charged, now=now)
        _event(session, pledge.ticket_id, now, "pledge_breached", kind=pledge.kind,
               owner_staff_id=pledge.owner_staff_id, attributed_to=charged)


def _meet(session: Session, pledge: Pledge, staff_id: int | None, now: datetime, policies: Policies,
          tz: ZoneInfo) -> None:
    _breach_if_late(session, pledge, now, policies)
    pledge.state, pledge.met_at, pledge.met_by_staff_id = PledgeState.MET, now, staff_id
    pledge.next_check_at = pledge.paused_at = None
    session.add(pledge)
    ledger.ended(session, pledge, RoundOutcome.MET, now=now, calendar=policies.calendar(pledge.kind, tz),
                 met_by_staff_id=staff_id)
    _event(session, pledge.ticket_id, now, "pledge_met", staff_id, kind=pledge.kind)


def _stop(session: Session, pledge: Pledge, state: str, reason: str, now: datetime, policies: Policies,
          tz: ZoneInfo, staff_id: int | None = None) -> None:
    pledge.state, pledge.state_reason, pledge.next_check_at = state, reason[:128], None
    session.add(pledge)
    ledger.ended(session, pledge, RoundOutcome(state), now=now, calendar=policies.calendar(pledge.kind, tz),
                 reason=reason)
    action = "pledge_not_applicable" if state == PledgeState.NOT_APPLICABLE else "pledge_cancelled"
    _event(session, pledge.ticket_id, now, action, staff_id, kind=pledge.kind, reason=reason)


def replied(session: Session, ticket: Ticket, staff: StaffMember, *, now: datetime, policies: Policies,
            tz: ZoneInfo) -> None:
    """A person replied: the reply pledge is met, and it is theirs if nobody had taken it."""
    pledge = one(session, id_of(ticket), PledgeKind.REPLY)
    if pledge is not None:
        _breach_if_late(session, pledge, now, policies)
        if pledge.owner_staff_id is None and staff.has_role(Role.AGENT):
            pledge.owner_staff_id = staff.id
            ledger.follow(session, pledge)
        if pledge.state in RUNNING:
            _meet(session, pledge, staff.id, now, policies, tz)
    after_progress(session, ticket, now=now, policies=policies, tz=tz)


def claim(session: Session, ticket: Ticket, staff: StaffMember, *, now: datetime, confirm: bool) -> Pledge:
    """An agent takes the ticket: its reply pledge is theirs. Taking another agent's needs `confirm`."""
    pledge = one(session, id_of(ticket), PledgeKind.REPLY)
    if pledge is None:
        raise ServiceError(texts.NO_REPLY_PLEDGE.format(ticket_id=ticket.id))
    if pledge.owner_staff_id == staff.id:
        return pledge
    if pledge.owner_staff_id is not None and not confirm:
        owner = session.get(StaffMember, pledge.owner_staff_id)
        raise Conflict(texts.CLAIMED_BY_OTHER.format(ticket_id=ticket.id, owner=owner.name if owner else "另一位客服"))
    _event(session, id_of(ticket), now, "claimed", staff.id, kind=pledge.kind, previous_owner=pledge.owner_staff_id)
    pledge.owner_staff_id = staff.id
    session.add(pledge)
    ledger.follow(session, pledge)
    return pledge


def claim_ticket(session: Session, ticket_id: int, staff: StaffMember, *, now: datetime, confirm: bool) -> Pledge:
    return claim(session, tickets.get_open(session, ticket_id), staff, now=now, confirm=confirm)


def owner_name(session: Session, pledge: Pledge | None) -> str | None:
    if pledge is None or pledge.owner_staff_id is None:
        return None
    owner = session.get(StaffMember, pledge.owner_staff_id)
    return owner.name if owner else None


def reopen(session: Session, ticket: Ticket, *, reason: str, now: datetime, policies: Policies, tz: ZoneInfo,
           actor_kind: str, actor_id: str | None, text: str | None = None, message_id: str | None = None,
           **detail: object) -> Pledge:
    """The request is not solved: a fresh reply clock for the agent who had it (or the pool), and the
    callback waits for the new reply. The trail says why."""
    tickets.reopen(session, ticket, now=now, actor_kind=actor_kind, actor_id=actor_id, reason=reason, text=text,
                   message_id=message_id, **detail)
    kept = of_ticket(session, id_of(ticket))
    reply = kept.get(PledgeKind.REPLY)
    if reply is None:
        reply = Pledge(ticket_id=id_of(ticket), kind=PledgeKind.REPLY, owner_role=Role.AGENT, created_at=now)
    owner = reply.owner_staff_id or reply.met_by_staff_id
    reply.owner_staff_id = owner
    _restart_clock(reply, ticket.category, now, policies, tz)
    session.add(reply)
    session.flush()
    ledger.begin(session, reply, ticket, reason=reason, calendar=policies.calendar(reply.kind, tz), now=now)
    _event(session, id_of(ticket), now, "pledge_restarted", kind=PledgeKind.REPLY, owner_staff_id=owner, reason=reason)
    callback = kept.get(PledgeKind.CALLBACK)
    if callback is not None and callback.state in RUNNING:
        _stop(session, callback, PledgeState.CANCELLED, "工单重新打开，待新的回复后再回访", now, policies, tz)
    if reason != "handover":  # the retailer who asked for a person was just told; the owner must be too
        notices.reply_task(session, reply, ticket, why=texts.REOPEN_REASONS.get(reason, reason), now=now,
                           policies=policies, tz=tz)
    return reply


def cancel_open(session: Session, ticket: Ticket, *, now: datetime, reason: str, staff_id: int | None,
                policies: Policies, tz: ZoneInfo) -> None:
    """Staff closed the ticket: what was still running is cancelled."""
    for pledge in of_ticket(session, id_of(ticket)).values():
        if pledge.state in RUNNING:
            _stop(session, pledge, PledgeState.CANCELLED, reason, now, policies, tz, staff_id)


MAX_REASON = 200


def _reason(reason: str | None, doing: str) -> str | None:
    """A pause's or resumption's reason for the trail; given but blank is refused."""
    if reason is None:
        return None
    if not reason.strip():
        raise ServiceError(f"{doing}原因不能为空")
    if len(reason.strip()) > MAX_REASON:
        raise ServiceError(f"{doing}原因最多 {MAX_REASON} 字")
    return reason.strip()


def pause(session: Session, pledge: Pledge, *, now: datetime, policies: Policies, tz: ZoneInfo,
          reason: str | None = None, staff_id: int | None = None) -> None:
    """Stop the clock while the ticket waits for the retailer, keeping the time left; the trail says why."""
    why = _reason(reason, "暂停")
    if pledge.state != PledgeState.PENDING:
        raise ServiceError(f"{texts.PLEDGE_LABELS.get(pledge.kind, pledge.kind)}承诺不在计时中，不能暂停")
    calendar = policies.calendar(pledge.kind, tz)
    pledge.remaining_seconds = calendar.elapsed(now, due_of(pledge)).total_seconds()
    pledge.state, pledge.paused_at, pledge.next_check_at = PledgeState.PAUSED, now, None
    session.add(pledge)
    ledger.paused(session, pledge, now=now, staff_id=staff_id, reason=why)
    _event(session, pledge.ticket_id, now, "pledge_paused", staff_id, kind=pledge.kind, reason=why)


def resume(session: Session, pledge: Pledge, *, now: datetime, policies: Policies, tz: ZoneInfo,
           reason: str | None = None, staff_id: int | None = None) -> None:
    """Restart the clock with the working time that was left when it paused."""
    why = _reason(reason, "恢复")
    if pledge.state != PledgeState.PAUSED:
        raise ServiceError(f"{texts.PLEDGE_LABELS.get(pledge.kind, pledge.kind)}承诺没有暂停")
    calendar = policies.calendar(pledge.kind, tz)
    left = timedelta(seconds=pledge.remaining_seconds or 0)
    if pledge.warned_at is None and pledge.warn_at:
        warning_ahead = calendar.elapsed(pledge.warn_at, due_of(pledge))
        pledge.warn_at = calendar.add(now, max(left - warning_ahead, timedelta()))
    pledge.due_at = calendar.add(now, left)
    pledge.state, pledge.paused_at, pledge.remaining_seconds = PledgeState.PENDING, None, None
    pledge.next_check_at = next_check(pledge, policies, tz)
    session.add(pledge)
    ledger.resumed(session, pledge, now=now, calendar=calendar, staff_id=staff_id, reason=why)
    _event(session, pledge.ticket_id, now, "pledge_resumed", staff_id, kind=pledge.kind, reason=why)


def _of_open_ticket(session: Session, ticket_id: int, kind: str) -> Pledge:
    ticket = tickets.get_open(session, ticket_id)
    pledge = one(session, id_of(ticket), kind)
    if pledge is None:
        raise ServiceError(f"工单 #{ticket_id} 没有{texts.PLEDGE_LABELS.get(kind, kind)}承诺")
    return pledge


def pause_on_ticket(session: Session, ticket_id: int, kind: str, *, reason: str, staff_id: int | None,
                    now: datetime, policies: Policies, tz: ZoneInfo) -> Pledge:
    """Pause one of a ticket's clocks (the console names the ticket and the kind); a reason is required."""
    pledge = _of_open_ticket(session, ticket_id, kind)
    pause(session, pledge, now=now, policies=policies, tz=tz, reason=reason, staff_id=staff_id)
    return pledge


def resume_on_ticket(session: Session, ticket_id: int, kind: str, *, reason: str, staff_id: int | None,
                     now: datetime, policies: Policies, tz: ZoneInfo) -> Pledge:
    pledge = _of_open_ticket(session, ticket_id, kind)
    resume(session, pledge, now=now, policies=policies, tz=tz, reason=reason, staff_id=staff_id)
    return pledge


# -- the sweep's steps -------------------------------------------------------------------------

class StepKind(StrEnum):
    WARN = "warn"
    BREACH = "breach"
    ESCALATE = "escalate"


@dataclass(frozen=True)
class Step:
    kind: StepKind
    level: int = 0
    notify: str = "owner"
    overdue: timedelta = timedelta()


def advance(session: Session, pledge: Pledge, *, now: datetime, policies: Policies, tz: ZoneInfo) -> list[Step]:
    """Move a due pledge along its clock: the warning, the breach, each escalation level reached."""
    calendar = policies.calendar(pledge.kind, tz)
    ladder = policies.pledges[cast(PledgeName, pledge.kind)].ladder
    due_at = due_of(pledge)  # a due pledge is running: its clock is set
    steps = []
    if pledge.warned_at is None and pledge.warn_at and pledge.warn_at <= now < due_at:
        pledge.warned_at = now
        steps.append(Step(StepKind.WARN))
    if now >= due_at:
        if pledge.breached_at is None:
            pledge.breached_at = now
            steps.append(Step(StepKind.BREACH))
        while pledge.escalation_level < len(ladder):
            step = ladder[pledge.escalation_level]
            if now < calendar.add(due_at, step.after.on(calendar)):
                break
            pledge.escalation_level += 1
            steps.append(Step(StepKind.ESCALATE, pledge.escalation_level, step.notify,
                              calendar.elapsed(due_at, now)))
    pledge.next_check_at = next_check(pledge, policies, tz)
    session.add(pledge)
    ledger.follow(session, pledge)
    return steps


def next_check(pledge: Pledge, policies: Policies, tz: ZoneInfo) -> datetime | None:
    """The next moment the sweep has work for this pledge, or None when the ladder is done."""
    calendar = policies.calendar(pledge.kind, tz)
    ladder = policies.pledges[cast(PledgeName, pledge.kind)].ladder
    if pledge.breached_at is None:
        if pledge.warned_at is None and pledge.warn_at and pledge.warn_at < due_of(pledge):
            return pledge.warn_at
        return pledge.due_at
    if pledge.escalation_level < len(ladder):
        return calendar.add(due_of(pledge), ladder[pledge.escalation_level].after.on(calendar))
    return None


# -- visits ------------------------------------------------------------------------------------

class VisitOrder(StrEnum):
    TOLD_MANAGER = "told_manager"
    TO_SUPERVISORS = "to_supervisors"
    NEEDS_SHOP = "needs_shop"
    ALREADY = "already"


@dataclass(frozen=True)
class VisitOrdered:
    pledge: Pledge
    order: VisitOrder
    manager: str | None = None
    why: str | None = None

    def confirmation(self, ticket_id: int) -> str:
        return {
            VisitOrder.TOLD_MANAGER: texts.VISIT_TOLD_MANAGER,
            VisitOrder.TO_SUPERVISORS: texts.VISIT_TO_SUPERVISORS,
            VisitOrder.NEEDS_SHOP: texts.VISIT_NEEDS_SHOP,
            VisitOrder.ALREADY: texts.VISIT_ALREADY,
        }[self.order].format(ticket_id=ticket_id, manager=self.manager, why=self.why)


def need_visit(session: Session, ticket_id: int, *, note: str | None, now: datetime, policies: Policies,
               tz: ZoneInfo, staff_id: int | None = None) -> VisitOrdered:
    """Start the visit pledge and give the task to the retailer's own account manager; an unbound
    sender's shop must first be identified by an agent."""
    ticket = tickets.get_open(session, ticket_id)
    existing = one(session, id_of(ticket), PledgeKind.VISIT)
    if existing is not None and existing.state in RUNNING:
        return VisitOrdered(existing, VisitOrder.ALREADY)
    retailer = session.get(Retailer, ticket.retailer_id) if ticket.retailer_id else None
    manager_id = retailer.manager_id if retailer else None
    pledge = _start(session, ticket, existing, PledgeKind.VISIT, owner_role=Role.MANAGER, owner_staff_id=manager_id,
                    now=now, policies=policies, tz=tz, reason="visit needed")
    _event(session, id_of(ticket), now, "visit_needed", staff_id, note=note)
    return _hand_visit(session, pledge, ticket, retailer, note, now, policies, tz)


def _hand_visit(session: Session, pledge: Pledge, ticket: Ticket, retailer: Retailer | None, note: str | None,
                now: datetime, policies: Policies, tz: ZoneInfo) -> VisitOrdered:
    if retailer is None:
        notices.identify_shop(session, pledge, ticket, now=now, policies=policies)
        return VisitOrdered(pledge, VisitOrder.NEEDS_SHOP)
    manager = session.get(StaffMember, retailer.manager_id) if retailer.manager_id else None
    if manager is not None and manager.active and manager.chat_user_id:
        notices.visit_task(session, pledge, ticket, retailer, note, now=now, policies=policies, tz=tz)
        return VisitOrdered(pledge, VisitOrder.TOLD_MANAGER, manager=manager.name)
    why = texts.NO_MANAGER if manager is None else texts.NO_MANAGER_ACCOUNT
    notices.visit_unassigned(session, pledge, ticket, retailer, why, now=now, policies=policies, tz=tz)
    return VisitOrdered(pledge, VisitOrder.TO_SUPERVISORS, why=why)


def category_changed(session: Session, ticket: Ticket, was: str, *, now: datetime, policies: Policies,
                     tz: ZoneInfo, staff_id: int) -> None:
    """Staff corrected the ticket's category from `was`: its rounds count under the new one, and the new
    category's rule decides the visit: ordered if it needs one (a complaint), cancelled if only the old one's
    rule had ordered it (not a person) and it is not yet made. The reply clock runs on: the retailer has waited
    since they asked."""
    ledger.recategorised(session, id_of(ticket), ticket.category)
    label = texts.CATEGORY_LABELS.get(ticket.category, ticket.category)
    if ticket.status == TicketStatus.CLOSED:
        return
    if policies.needs_visit(ticket.category, ticket.text):  # ordered by the rule, as at intake: not by a person
        need_visit(session, id_of(ticket), note=f"类别改为{label}，按类别规则需要上门", now=now, policies=policies,
                   tz=tz)
        return
    visit = one(session, id_of(ticket), PledgeKind.VISIT)
    if visit is not None and visit.state in RUNNING and policies.needs_visit(was, ticket.text) \
            and not tickets.visit_ordered_by_staff(session, id_of(ticket)):
        _stop(session, visit, PledgeState.CANCELLED, f"类别改为{label}，不再需要上门", now, policies, tz, staff_id)


def retailer_identified(session: Session, ticket: Ticket, retailer: Retailer, *, now: datetime,
                        policies: Policies, tz: ZoneInfo) -> VisitOrdered | None:
    """The shop of an unbound sender is known now: a waiting visit goes to its account manager."""
    pledge = one(session, id_of(ticket), PledgeKind.VISIT)
    if pledge is None or pledge.state not in RUNNING or pledge.owner_staff_id is not None:
        return None
    pledge.owner_staff_id = retailer.manager_id
    session.add(pledge)
    ledger.follow(session, pledge)
    return _hand_visit(session, pledge, ticket, retailer, None, now, policies, tz)


PHOTO_URL_LENGTH = 500


def _check_photo_url(photo_url: str | None) -> None:
    if photo_url is None:
        return
    if not photo_url.startswith(("http://", "https://")) or any(c.isspace() for c in photo_url):
        raise ServiceError("照片链接须是以 http:// 或 https:// 开头的网址，且不含空格")
    if len(photo_url) > PHOTO_URL_LENGTH:
        raise ServiceError(f"照片链接最多 {PHOTO_URL_LENGTH} 个字符")


def record_visit(session: Session, ticket_id: int, staff: StaffMember, *, action: str, notes: str | None,
                 visited_at: datetime | None, now: datetime, policies: Policies, tz: ZoneInfo,
                 outcome: str | None = None, photo_url: str | None = None) -> VisitRecord:
    """The account manager was there: the visit pledge is met. `outcome` is a `VisitOutcome` (the chat
    command leaves it out); `photo_url` an optional http(s) link to a photo taken on site."""
    ticket = tickets.get(session, ticket_id)
    pledge = one(session, ticket_id, PledgeKind.VISIT)
    if pledge is None or pledge.state not in RUNNING:
        raise ServiceError(f"工单 #{ticket_id} 没有待完成的上门任务")
    if pledge.owner_staff_id not in (None, staff.id) and not staff.has_role(Role.SUPERVISOR, Role.ADMIN):
        raise ServiceError(f"工单 #{ticket_id} 的上门任务属于另一位客户经理")
    if not action.strip():
        raise ServiceError("请填写上门做了什么")
    if outcome is not None and outcome not in VisitOutcome.__members__.values():
        raise ServiceError("上门结果须是：已解决、部分解决或未解决")
    _check_photo_url(photo_url)
    visited_at = visited_at or now
    if visited_at > now:
        raise ServiceError("上门时间不能晚于现在")
    if visited_at < ticket.created_at.replace(second=0, microsecond=0):  # forms give the minute
        raise ServiceError("上门时间不能早于客户提出问题的时间")
    record = VisitRecord(ticket_id=ticket_id, staff_id=id_of(staff), visited_at=visited_at, action=action,
                         notes=notes, outcome=outcome, photo_url=photo_url, recorded_at=now)
    session.add(record)
    session.flush()
    _event(session, ticket_id, now, "visited", staff.id, what=action[:200], visit_id=record.id, outcome=outcome)
    _meet(session, pledge, staff.id, now, policies, tz)
    after_progress(session, ticket, now=now, policies=policies, tz=tz)
    return record


def move_visits(session: Session, retailer_ids: list[int], manager_id: int | None, *, now: datetime,
                policies: Policies, tz: ZoneInfo) -> int:
    """A retailer's running visit tasks follow them to their new account manager, who is told."""
    if not retailer_ids:
        return 0
    running = session.exec(
        select(Pledge, Ticket).join(Ticket, col(Ticket.id) == Pledge.ticket_id)
        .where(Pledge.kind == PledgeKind.VISIT, col(Pledge.state).in_(RUNNING),
               col(Ticket.retailer_id).in_(retailer_ids))).all()
    for pledge, ticket in running:
        if pledge.owner_staff_id == manager_id:
            continue
        _event(session, id_of(ticket), now, "pledge_reassigned", kind=pledge.kind, to_staff_id=manager_id,
               reason="retailer moved")
        pledge.owner_staff_id = manager_id
        session.add(pledge)
        ledger.follow(session, pledge)
        if pledge.state == PledgeState.PENDING:
            _hand_visit(session, pledge, ticket, session.get(Retailer, ticket.retailer_id), None, now, policies, tz)
    return len(running)


# -- callbacks ---------------------------------------------------------------------------------

def after_progress(session: Session, ticket: Ticket, *, now: datetime, policies: Policies, tz: ZoneInfo) -> None:
    """Once the reply, and the visit if one is needed, are met, the district calls back; a sender
    who cannot be called makes the callback not applicable, and then the ticket is done."""
    session.flush()
    kept = of_ticket(session, id_of(ticket))
    reply, visit, callback = (kept.get(kind) for kind in (PledgeKind.REPLY, PledgeKind.VISIT, PledgeKind.CALLBACK))
    if reply is None or reply.state != PledgeState.MET or (visit is not None and visit.state in RUNNING):
        return
    if callback is not None and _this_round(callback, reply):
        return  # this round's callback is already under way or done
    if ticket.status == TicketStatus.ANSWERED:
        return  # the bot answered; nobody calls back about an automatic answer
    pledge = start(session, ticket, PledgeKind.CALLBACK, owner_role=Role.CALLBACK, owner_staff_id=None,
                   now=now, policies=policies, tz=tz, reason="callback due")
    retailer = session.get(Retailer, ticket.retailer_id) if ticket.retailer_id else None
    if retailer is None or not retailer.phone:
        _stop(session, pledge, PledgeState.NOT_APPLICABLE, texts.UNBOUND_SENDER, now, policies, tz)
        _close_if_done(session, ticket, now, "callback not applicable")
        return
    visited = visit is not None and visit.state == PledgeState.MET
    notices.callback_task(session, pledge, ticket, retailer, visited=visited, now=now, policies=policies, tz=tz)


def _this_round(callback: Pledge, reply: Pledge) -> bool:
    """Whether the callback belongs to the reply's current round (not to one before a reopening)."""
    if callback.state in RUNNING:
        return True
    finished = callback.met_at or callback.started_at
    return finished is not None and finished > started_of(reply)


def _close_if_done(session: Session, ticket: Ticket, now: datetime, reason: str) -> None:
    if ticket.status != TicketStatus.CLOSED and all(p.state in KEPT
                                                    for p in of_ticket(session, id_of(ticket)).values()):
        tickets.close(session, ticket, now=now, actor_kind=AuthorKind.SYSTEM, actor_id=None, reason=reason)


LOW_SCORE = 2  # a callback score at or below this reopens the ticket


@dataclass(frozen=True)
class Items:
    """The satisfaction items of seed 003 §八 asked on a callback, each a `Satisfaction` (None: not asked)."""

    supply: str | None = None  # 货源供应
    manager: str | None = None  # 客户经理服务
    handling: str | None = None  # 处理问题的时效与结果

    def given(self) -> bool:
        return any(value is not None for value in (self.supply, self.manager, self.handling))


def unreachable_tries(session: Session, pledge: Pledge) -> int:
    """Calls recorded as unreachable in the callback pledge's current round."""
    return session.exec(select(func.count()).select_from(CallbackRecord).where(
        CallbackRecord.ticket_id == pledge.ticket_id, CallbackRecord.reached == False,  # noqa: E712
        col(CallbackRecord.recorded_at) >= started_of(pledge))).one()


def _kept_in_time(round_: PledgeRound | None) -> bool | None:
    """What the clock says of a round a call asks about: met before its deadline."""
    if round_ is None:
        return None
    return round_.outcome == RoundOutcome.MET and round_.breached_at is None


def _check_call(session: Session, ticket_id: int, *, reached: bool, score: int | None, reply_in_time: bool | None,
                visit_happened: bool | None, items: Items) -> None:
    if not reached:
        if score is not None:
            raise ServiceError("未接通的电话不能填写满意度评分")
        if reply_in_time is not None or visit_happened is not None or items.given():
            raise ServiceError("未接通的电话不能填写客户的确认和满意度项目")
        return
    if score is None:
        raise ServiceError("已联系上客户时必须填写满意度（1 到 5 分）")
    if not 1 <= score <= 5:
        raise ServiceError("满意度评分须为 1 到 5 分")
    if visit_happened is not None:
        visit = one(session, ticket_id, PledgeKind.VISIT)
        if visit is None or visit.state != PledgeState.MET:
            raise ServiceError(f"工单 #{ticket_id} 没有上门记录，不能确认上门是否属实")
    for name, value in (("货源供应", items.supply), ("客户经理服务", items.manager),
                        ("处理问题的时效与结果", items.handling)):
        if value is not None and value not in Satisfaction.__members__.values():
            raise ServiceError(f"「{name}」须是：满意、一般、不满意或未涉及")


def record_callback(session: Session, ticket_id: int, staff: StaffMember, *, reached: bool,
                    score: int | None, reply_in_time: bool | None, visit_happened: bool | None,
                    comment: str | None, now: datetime, policies: Policies, tz: ZoneInfo,
                    items: Items | None = None) -> CallbackRecord:
    """A satisfaction call: reached, with a 1-5 score, the retailer's confirmation of each pledge
    (the visit's only when there was one) and the satisfaction items; or unreachable, with nothing
    else, retried up to `policies.callback_attempts`. A score of `LOW_SCORE` or lower reopens the
    ticket and tells the supervisors."""
    items = items or Items()
    ticket = tickets.get(session, ticket_id)
    pledge = one(session, ticket_id, PledgeKind.CALLBACK)
    if pledge is None or pledge.state not in RUNNING:
        raise ServiceError(f"工单 #{ticket_id} 没有待回访的任务")
    kept_by = {p.met_by_staff_id for p in of_ticket(session, ticket_id).values() if p.kind != PledgeKind.CALLBACK}
    if staff.id in kept_by:
        raise ServiceError("回访须由未参与回复和上门的人员进行")
    _check_call(session, ticket_id, reached=reached, score=score, reply_in_time=reply_in_time,
                visit_happened=visit_happened, items=items)
    asked_about = {kind: ledger.latest(session, id_of(p)) for kind, p in of_ticket(session, ticket_id).items()}
    reply_round, visit_round = asked_about.get(PledgeKind.REPLY), asked_about.get(PledgeKind.VISIT)
    _breach_if_late(session, pledge, now, policies)
    if pledge.owner_staff_id is None and staff.has_role(Role.CALLBACK):  # the first caller takes the callback
        pledge.owner_staff_id = staff.id
        session.add(pledge)
        ledger.follow(session, pledge)
    record = CallbackRecord(ticket_id=ticket_id, staff_id=id_of(staff), reached=reached, score=score,
                            reply_in_time=reply_in_time, visit_happened=visit_happened,
                            supply_satisfaction=items.supply, manager_satisfaction=items.manager,
                            handling_satisfaction=items.handling, comment=comment, recorded_at=now,
                            reply_round_id=reply_round.id if reply_round else None,
                            visit_round_id=visit_round.id if visit_round else None,
                            reply_staff_id=reply_round.met_by_staff_id if reply_round else None,
                            visit_staff_id=visit_round.met_by_staff_id if visit_round else None,
                            reply_kept_in_time=_kept_in_time(reply_round),
                            visit_kept=None if visit_round is None else visit_round.outcome == RoundOutcome.MET,
                            chat_group_id=ticket.chat_group_id,
                            district=reply_round.district if reply_round else ledger.district_of(session, ticket))
    session.add(record)
    session.flush()
    if not reached:
        tries = unreachable_tries(session, pledge)
        _event(session, ticket_id, now, "callback_unreachable", staff.id, attempt=tries)
        if tries >= policies.callback_attempts:
            _stop(session, pledge, PledgeState.NOT_APPLICABLE, texts.UNREACHABLE, now, policies, tz, staff.id)
            _close_if_done(session, ticket, now, "callback not applicable")
        return record
    _meet(session, pledge, staff.id, now, policies, tz)
    _event(session, ticket_id, now, "callback_recorded", staff.id, score=score, reply_in_time=reply_in_time,
           visit_happened=visit_happened)
    if score is not None and score <= LOW_SCORE:
        reopen(session, ticket, reason="low satisfaction", now=now, policies=policies, tz=tz,
               actor_kind=AuthorKind.STAFF, actor_id=str(staff.id), score=score)
        notices.low_satisfaction(session, ticket, record, now=now, policies=policies)
    elif ticket.status != TicketStatus.CLOSED:
        tickets.close(session, ticket, now=now, actor_kind=AuthorKind.STAFF, actor_id=str(staff.id),
                      reason="callback satisfied", score=score)
    return record


# -- lists and reassignment --------------------------------------------------------------------

def list_pledges(session: Session, *, kinds: list[str] | None, state: str | None, owner_staff_id: int | None,
                 breached: bool | None, due_before: datetime | None, due_after: datetime | None = None,
                 offset: int, limit: int, visible: ColumnElement[bool] | None = None) -> tuple[int, list[Pledge]]:
    """`due_before` and `due_after` both include their moment; `visible` keeps what the caller may see
    (`access.pledges_visible`)."""
    conditions: list[ColumnElement[bool]] = [] if visible is None else [visible]
    if kinds is not None:
        conditions.append(col(Pledge.kind).in_(kinds))
    if state:
        conditions.append(col(Pledge.state) == state)
    if owner_staff_id is not None:
        conditions.append(col(Pledge.owner_staff_id) == owner_staff_id)
    if breached is not None:
        conditions.append(col(Pledge.breached_at).is_not(None) if breached else col(Pledge.breached_at).is_(None))
    if due_before:
        conditions.append(col(Pledge.due_at) <= due_before)
    if due_after:
        conditions.append(col(Pledge.due_at) >= due_after)
    total = session.exec(select(func.count()).select_from(Pledge).where(*conditions)).one()
    rows = session.exec(select(Pledge).where(*conditions).order_by(col(Pledge.due_at), col(Pledge.id))
                        .offset(offset).limit(limit)).all()
    return total, list(rows)


def open_tasks(session: Session, staff: StaffMember) -> list[tuple[Pledge, Ticket]]:
    """What a staff member has to do now: their running pledges, soonest due first."""
    return list(session.exec(
        select(Pledge, Ticket).join(Ticket, col(Ticket.id) == Pledge.ticket_id)
        .where(Pledge.owner_staff_id == staff.id, col(Pledge.state).in_(RUNNING))
        .order_by(col(Pledge.due_at)).limit(20)).all())


def assign(session: Session, ticket_id: int, kind: str, staff_id: int, *, now: datetime, policies: Policies,
           tz: ZoneInfo, by_staff_id: int | None = None) -> Pledge:
    """A supervisor gives a ticket's reply, visit or callback pledge to someone, who is told."""
    pledge = one(session, id_of(tickets.get(session, ticket_id)), kind)
    if pledge is None:
        raise ServiceError(f"工单 #{ticket_id} 没有{texts.PLEDGE_LABELS.get(kind, kind)}承诺")
    return reassign(session, id_of(pledge), staff_id, now=now, policies=policies, tz=tz, by_staff_id=by_staff_id)


def reassign(session: Session, pledge_id: int, staff_id: int, *, now: datetime, policies: Policies,
             tz: ZoneInfo, by_staff_id: int | None = None) -> Pledge:
    """A supervisor gives a pledge to someone else, who is told."""
    pledge = get(session, pledge_id)
    owner = session.get(StaffMember, staff_id)
    if owner is None or not owner.active or pledge.owner_role not in owner.roles:
        raise ServiceError(f"员工 {staff_id} 不能承担这项任务（需要角色 {pledge.owner_role}）")
    pledge.owner_staff_id = owner.id
    session.add(pledge)
    ledger.follow(session, pledge)
    ticket = tickets.get(session, pledge.ticket_id)
    _event(session, id_of(ticket), now, "pledge_reassigned", by_staff_id, kind=pledge.kind, to_staff_id=owner.id)
    if pledge.state != PledgeState.PENDING:
        return pledge
    if pledge.kind == PledgeKind.VISIT:
        retailer = session.get(Retailer, ticket.retailer_id) if ticket.retailer_id else None
        notices.visit_task(session, pledge, ticket, retailer, None, now=now, policies=policies, tz=tz)
    elif pledge.kind == PledgeKind.REPLY:
        notices.reply_task(session, pledge, ticket, why="督导把这个工单指派给你", now=now, policies=policies, tz=tz)
    else:
        retailer = session.get(Retailer, ticket.retailer_id) if ticket.retailer_id else None
        notices.callback_task(session, pledge, ticket, retailer, visited=one(session, id_of(ticket), PledgeKind.VISIT)
                              is not None, now=now, policies=policies, tz=tz)
    return pledge
