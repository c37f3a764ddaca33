"""The pledge ledger: the one writer of pledge rounds, pauses, breaches and breach corrections.

A pledge row holds only its current clock. Each time a clock starts (a new ticket, a visit ordered,
a callback due, a reopening) a round begins here, and as the pledge service moves the clock it tells
the ledger what happened: the owner at the time, the warning, the breach (one row per person it is
charged to), each escalation level, every pause, and how the round ended with the working time it
took. Reports count these facts and never re-derive history from the trail.

A breach row is never changed or deleted; a supervisor's ruling is a new `BreachCorrection` that
names who and why, and the latest ruling decides whether the breach counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, col, select

from bot.db import Prepared
from bot.models import (
    BreachCorrection,
    ChatGroup,
    Pledge,
    PledgeBreach,
    PledgeKind,
    PledgePause,
    PledgeRound,
    Retailer,
    Role,
    RoundOutcome,
    StaffMember,
    Ticket,
    id_of,
    table_of,
)
from bot.services import tickets
from bot.services.calendar import BusinessCalendar
from bot.services.errors import NotFound, ServiceError

_INSERT_FIRST_ROUND = Prepared(insert(table_of(PledgeRound)))  # intake's hot path
_CURRENT = (select(PledgeRound).where(col(PledgeRound.pledge_id) == bindparam("pledge_id"))
            .order_by(col(PledgeRound.round_no).desc()).limit(1))
MAX_REASON = 200


def district_of(session: Session, ticket: Ticket) -> str | None:
    """The district a ticket is counted in: its group's, or for a private chat its retailer's."""
    if ticket.chat_group_id is not None:
        group = session.get(ChatGroup, ticket.chat_group_id)
        if group is not None and group.district:
            return group.district
    retailer = session.get(Retailer, ticket.retailer_id) if ticket.retailer_id else None
    return retailer.district if retailer else None


def begin_first(session: Session, pledge_id: int, ticket_id: int, kind: str, *, category: str, reason: str,
                chat_group_id: int | None, district: str | None, owner_staff_id: int | None, started_at: datetime,
                due_at: datetime, met_by_bot: bool = False) -> None:
    """The first round of a new pledge (intake's hot path: one prebuilt insert); an answer from the knowledge
    base meets a reply pledge the moment it starts."""
    _INSERT_FIRST_ROUND.execute(session, {
        "pledge_id": pledge_id, "ticket_id": ticket_id, "round_no": 1, "kind": kind, "reason": reason[:32],
        "category": category, "chat_group_id": chat_group_id, "district": district,
        "owner_staff_id": owner_staff_id, "started_at": started_at, "due_at": due_at, "warned_at": None,
        "breached_at": None, "escalation_level": 0,
        "ended_at": started_at if met_by_bot else None,
        "outcome": RoundOutcome.MET if met_by_bot else RoundOutcome.RUNNING, "outcome_reason": None,
        "met_by_staff_id": None, "by_bot": met_by_bot, "business_seconds": 0.0 if met_by_bot else None,
        "paused_seconds": 0.0})


def recategorised(session: Session, ticket_id: int, category: str) -> None:
    """Staff corrected the ticket's category: its rounds are counted under the right one (the reports' topics),
    their clocks and what happened to them unchanged."""
    session.execute(update(PledgeRound).where(col(PledgeRound.ticket_id) == ticket_id).values(category=category))


def begin(session: Session, pledge: Pledge, ticket: Ticket, *, reason: str, calendar: BusinessCalendar,
          now: datetime) -> PledgeRound:
    """A new round of a pledge whose clock (re)started now; a round still running is ended as cancelled."""
    current = latest(session, id_of(pledge))
    if current is not None and current.outcome == RoundOutcome.RUNNING:
        _end(session, current, RoundOutcome.CANCELLED, now, calendar, reason=f"重新计时：{reason}")
    assert pledge.started_at is not None and pledge.due_at is not None, "begin follows a started clock"
    round_ = PledgeRound(
        pledge_id=id_of(pledge), ticket_id=id_of(ticket), round_no=(current.round_no + 1) if current else 1,
        kind=pledge.kind, reason=reason[:32], category=ticket.category, chat_group_id=ticket.chat_group_id,
        district=district_of(session, ticket), owner_staff_id=pledge.owner_staff_id, started_at=pledge.started_at,
        due_at=pledge.due_at)
    session.add(round_)
    session.flush()
    return round_


def latest(session: Session, pledge_id: int) -> PledgeRound | None:
    """The pledge's current round (or its last, once ended)."""
    return session.exec(_CURRENT, params={"pledge_id": pledge_id}).first()


def _running(session: Session, pledge: Pledge) -> PledgeRound | None:
    round_ = latest(session, id_of(pledge))
    return round_ if round_ is not None and round_.outcome == RoundOutcome.RUNNING else None


def follow(session: Session, pledge: Pledge) -> None:
    """Copy the running clock's owner, deadline, warning and escalation level onto its round."""
    round_ = _running(session, pledge)
    if round_ is None:
        return
    round_.owner_staff_id = pledge.owner_staff_id
    if pledge.due_at is not None:
        round_.due_at = pledge.due_at
    round_.warned_at = pledge.warned_at
    round_.escalation_level = max(round_.escalation_level, pledge.escalation_level)
    session.add(round_)


def ended(session: Session, pledge: Pledge, outcome: RoundOutcome, *, now: datetime, calendar: BusinessCalendar,
          reason: str | None = None, met_by_staff_id: int | None = None) -> None:
    """The round ended: met (by whom), cancelled or not applicable, with the working time it took."""
    round_ = _running(session, pledge)
    if round_ is None:
        return
    round_.owner_staff_id = pledge.owner_staff_id
    round_.met_by_staff_id = met_by_staff_id
    _end(session, round_, outcome, now, calendar, reason=reason)


def _end(session: Session, round_: PledgeRound, outcome: RoundOutcome, now: datetime, calendar: BusinessCalendar,
         *, reason: str | None) -> None:
    pause = _open_pause(session, round_)
    if pause is not None:  # a clock stopped while paused: the pause ends with it
        _close_pause(session, round_, pause, now, calendar, staff_id=None, reason=None)
    round_.outcome, round_.outcome_reason, round_.ended_at = outcome, (reason or None) and reason[:128], now
    taken = calendar.elapsed(round_.started_at, now).total_seconds() - round_.paused_seconds
    round_.business_seconds = max(taken, 0.0)
    session.add(round_)


def paused(session: Session, pledge: Pledge, *, now: datetime, staff_id: int | None, reason: str | None) -> None:
    round_ = _running(session, pledge)
    if round_ is not None:
        session.add(PledgePause(round_id=id_of(round_), ticket_id=pledge.ticket_id, paused_at=now,
                                paused_by_staff_id=staff_id, reason=reason))


def resumed(session: Session, pledge: Pledge, *, now: datetime, calendar: BusinessCalendar, staff_id: int | None,
            reason: str | None) -> None:
    round_ = _running(session, pledge)
    pause = _open_pause(session, round_) if round_ is not None else None
    if round_ is not None and pause is not None:
        _close_pause(session, round_, pause, now, calendar, staff_id=staff_id, reason=reason)
    follow(session, pledge)


def _open_pause(session: Session, round_: PledgeRound) -> PledgePause | None:
    session.flush()
    return session.exec(select(PledgePause).where(PledgePause.round_id == round_.id,
                                                  col(PledgePause.resumed_at).is_(None))).first()


def _close_pause(session: Session, round_: PledgeRound, pause: PledgePause, now: datetime,
                 calendar: BusinessCalendar, *, staff_id: int | None, reason: str | None) -> None:
    stood = calendar.elapsed(pause.paused_at, now).total_seconds()
    pause.resumed_at, pause.resumed_by_staff_id, pause.resume_reason = now, staff_id, reason
    pause.business_seconds = stood
    round_.paused_seconds += stood
    session.add(pause)
    session.add(round_)


def breached(session: Session, pledge: Pledge, *, charged_to: Sequence[int], now: datetime) -> None:
    """The deadline passed: the round records it, and one breach row per person it is charged to
    (a row with nobody when there is no one to charge, so the group still counts it)."""
    round_ = _running(session, pledge)
    if round_ is None:
        return
    round_.breached_at = now
    session.add(round_)
    charged: Sequence[int | None] = charged_to or [None]
    for staff_id in charged:
        session.add(PledgeBreach(round_id=id_of(round_), ticket_id=pledge.ticket_id, kind=pledge.kind,
                                 staff_id=staff_id, due_at=round_.due_at, breached_at=now))


def charged_to(session: Session, pledge: Pledge, agents_on_duty: Sequence[int]) -> list[int]:
    """Whose breach it is, for the monthly appraisal: the owner; for an unclaimed reply the agents on
    duty (policy `agents_on_duty`, else every active agent); for a callback nobody has taken, every
    active callback staffer; an unassigned visit is charged to nobody (it shows as 未指派)."""
    if pledge.owner_staff_id is not None:
        return [pledge.owner_staff_id]
    if pledge.kind == PledgeKind.REPLY and agents_on_duty:
        return list(agents_on_duty)
    pool = {PledgeKind.REPLY: Role.AGENT, PledgeKind.CALLBACK: Role.CALLBACK}.get(PledgeKind(pledge.kind))
    if pool is None:
        return []
    active = session.exec(select(StaffMember).where(col(StaffMember.active).is_(True)).order_by(col(StaffMember.id)))
    return [id_of(member) for member in active if member.has_role(pool)]


def correct_breach(session: Session, breach_id: int, *, excused: bool, reason: str, by: StaffMember,
                   now: datetime) -> BreachCorrection:
    """A supervisor's ruling on a breach: excused (not counted against the person) or counted again.
    The breach itself is left as it was; the ruling names who and why."""
    breach = get_breach(session, breach_id)
    why = reason.strip()
    if not why:
        raise ServiceError("请填写更正原因")
    if len(why) > MAX_REASON:
        raise ServiceError(f"更正原因最多 {MAX_REASON} 字")
    if is_excused(session, breach_id) == excused:
        raise ServiceError("这条超时记录已经免责" if excused else "这条超时记录本来就计入考评")
    correction = BreachCorrection(breach_id=breach_id, excused=excused, reason=why, by_staff_id=id_of(by), at=now)
    session.add(correction)
    session.flush()
    tickets.event(session, breach.ticket_id, now, "staff", str(by.id), "breach_corrected", breach_id=breach_id,
                  kind=breach.kind, excused=excused, reason=why, charged_to=breach.staff_id)
    return correction


def get_breach(session: Session, breach_id: int) -> PledgeBreach:
    breach = session.get(PledgeBreach, breach_id)
    if breach is None:
        raise NotFound(f"超时记录 {breach_id} 不存在")
    return breach


def is_excused(session: Session, breach_id: int) -> bool:
    latest_ruling = session.exec(select(BreachCorrection).where(BreachCorrection.breach_id == breach_id)
                                 .order_by(col(BreachCorrection.id).desc()).limit(1)).first()
    return latest_ruling is not None and latest_ruling.excused


def corrections(session: Session, breach_id: int) -> list[BreachCorrection]:
    return list(session.exec(select(BreachCorrection).where(BreachCorrection.breach_id == breach_id)
                             .order_by(col(BreachCorrection.id))))
