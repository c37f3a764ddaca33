"""The monthly appraisal (seed 000 section 一): a score per service staff member, ranked, 90 and above
优秀, every point traceable to its ticket.

The formula is the policy's `[appraisal]` section (policies.example.toml documents it):

    score = base
            - breach_points[pledge] for each breach charged to the person in the period (not excused)
            - level_points × (levels reached beyond the first) for each of those breaches
            - low_score_points for each callback in the period scoring 2 or less on a ticket whose reply
              or visit (of the round the call asked about) the person kept
            + bonus_points when their mean callback score is at least bonus_mean over at least
              bonus_min_calls scored calls
    capped to 0 .. base.

A breach is counted in the month it happened (`breached_at`), a callback in the month it was made.
Who is scored: active staff with a service role (agent, account manager, callback), and anyone
charged with something in the period.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot.models import (
    BreachCorrection,
    CallbackRecord,
    PledgeBreach,
    PledgeRound,
    Role,
    StaffMember,
)
from bot.policy import AppraisalPolicy
from bot.services.pledges import LOW_SCORE
from bot.services.reports.base import KIND_LABELS, Period, Scope

SCORED_ROLES = (Role.AGENT, Role.MANAGER, Role.CALLBACK)
ROLE_LABELS = {Role.AGENT: "客服员", Role.MANAGER: "客户经理", Role.CALLBACK: "回访员"}


@dataclass(frozen=True)
class Deduction:
    """One line of a person's score: points off (or the bonus, positive) and the ticket behind it."""

    staff_id: int
    ticket_id: int | None
    at: datetime | None
    what: str  # e.g. 客服回复超时（升级至 2 级）
    points: float  # negative: off; positive: the bonus
    breach_id: int | None = None
    callback_id: int | None = None


@dataclass
class Score:
    staff_id: int
    name: str
    roles: str
    breaches: int = 0
    low_scores: int = 0
    calls: int = 0  # scored callbacks on tickets they served
    mean_score: float | None = None
    excused: int = 0  # breaches excused by a supervisor (not counted)
    lines: list[Deduction] = field(default_factory=list)
    score: float = 0.0
    rank: int = 0
    excellent: bool = False


@dataclass
class Appraisal:
    period: Period
    scope: Scope
    policy: AppraisalPolicy
    scores: list[Score]  # ranked, best first


def excused() -> ColumnElement[bool]:
    """Whether a breach's latest ruling excuses it, in SQL (on `PledgeBreach`)."""
    later = aliased(BreachCorrection)
    latest = and_(col(BreachCorrection.breach_id) == col(PledgeBreach.id), ~exists().where(
        col(later.breach_id) == col(BreachCorrection.breach_id), col(later.id) > col(BreachCorrection.id)))
    return exists().where(latest, col(BreachCorrection.excused).is_(True))


def _breaches(session: Session, period: Period, scope: Scope, tz: ZoneInfo) -> list[tuple[PledgeBreach, int, bool]]:
    start, end = period.bounds(tz)
    query = (select(PledgeBreach, PledgeRound.escalation_level, excused())
             .join(PledgeRound, col(PledgeRound.id) == PledgeBreach.round_id)
             .where(col(PledgeBreach.breached_at) >= start, col(PledgeBreach.breached_at) < end,
                    col(PledgeBreach.staff_id).is_not(None)))
    if scope.district is not None:
        query = query.where(PledgeRound.district == scope.district)
    if scope.chat_group_id is not None:
        query = query.where(PledgeRound.chat_group_id == scope.chat_group_id)
    if scope.staff_id is not None:
        query = query.where(PledgeBreach.staff_id == scope.staff_id)
    return [(breach, level, bool(excused)) for breach, level, excused in session.exec(query)]


def _calls(session: Session, period: Period, scope: Scope, tz: ZoneInfo) -> list[tuple[CallbackRecord, list[int]]]:
    """Scored callbacks in the period, each with the people who kept the reply and the visit it asked about."""
    start, end = period.bounds(tz)
    reply, visit = aliased(PledgeRound), aliased(PledgeRound)
    query = (select(CallbackRecord, col(reply.met_by_staff_id), col(visit.met_by_staff_id))
             .outerjoin(reply, col(reply.id) == CallbackRecord.reply_round_id)
             .outerjoin(visit, col(visit.id) == CallbackRecord.visit_round_id)
             .where(col(CallbackRecord.recorded_at) >= start, col(CallbackRecord.recorded_at) < end,
                    col(CallbackRecord.score).is_not(None)))
    if scope.district is not None:
        query = query.where(col(reply.district) == scope.district)
    if scope.chat_group_id is not None:
        query = query.where(col(reply.chat_group_id) == scope.chat_group_id)
    if scope.staff_id is not None:
        query = query.where(or_(col(reply.met_by_staff_id) == scope.staff_id,
                                col(visit.met_by_staff_id) == scope.staff_id))
    calls = []
    for record, replier, visitor in session.exec(query):
        served = [person for person in dict.fromkeys((replier, visitor)) if person is not None]
        if scope.staff_id is not None:
            served = [person for person in served if person == scope.staff_id]
        calls.append((record, served))
    return calls


def report(session: Session, period: Period, scope: Scope, tz: ZoneInfo, policy: AppraisalPolicy) -> Appraisal:
    staff = {member.id: member for member in session.exec(select(StaffMember)) if member.id is not None}
    people: dict[int, Score] = {}

    def score_of(staff_id: int) -> Score:
        if staff_id not in people:
            member = staff.get(staff_id)
            roles = "、".join(ROLE_LABELS[Role(r)] for r in (member.roles if member else []) if r in ROLE_LABELS)
            people[staff_id] = Score(staff_id, member.name if member else f"员工{staff_id}", roles)
        return people[staff_id]

    if scope.staff_id is not None:
        score_of(scope.staff_id)
    elif scope.district is None and scope.chat_group_id is None:
        for member in staff.values():
            if member.active and member.has_role(*SCORED_ROLES):
                score_of(member.id)  # type: ignore[arg-type]  # stored members have ids

    for breach, level, excused in _breaches(session, period, scope, tz):
        assert breach.staff_id is not None, "only charged breaches are read"
        person = score_of(breach.staff_id)
        if excused:
            person.excused += 1
            continue
        person.breaches += 1
        label = KIND_LABELS.get(breach.kind, breach.kind)  # type: ignore[call-overload]
        person.lines.append(Deduction(breach.staff_id, breach.ticket_id, breach.breached_at, f"{label}超时",
                                      -policy.breach_points.get(breach.kind, 0.0),  # type: ignore[call-overload]
                                      breach_id=breach.id))
        beyond = max(level - 1, 0)
        if beyond and policy.level_points:
            person.lines.append(Deduction(breach.staff_id, breach.ticket_id, breach.breached_at,
                                          f"{label}超时后升级至 {level} 级", -policy.level_points * beyond,
                                          breach_id=breach.id))

    scores: defaultdict[int, list[int]] = defaultdict(list)
    for record, served in _calls(session, period, scope, tz):
        for staff_id in served:
            assert record.score is not None, "only scored calls are read"
            scores[staff_id].append(record.score)
            if record.score <= LOW_SCORE:
                person = score_of(staff_id)
                person.low_scores += 1
                person.lines.append(Deduction(staff_id, record.ticket_id, record.recorded_at,
                                              f"回访评分 {record.score} 分", -policy.low_score_points,
                                              callback_id=record.id))
    for staff_id, given in scores.items():
        person = score_of(staff_id)
        person.calls, person.mean_score = len(given), round(sum(given) / len(given), 2)
        if len(given) >= policy.bonus_min_calls and person.mean_score >= policy.bonus_mean:
            said = f"回访满意度均分 {person.mean_score}（{len(given)} 次）"
            person.lines.append(Deduction(staff_id, None, None, said, policy.bonus_points))

    for person in people.values():
        total = policy.base + sum(line.points for line in person.lines)
        person.score = round(min(max(total, 0.0), policy.base), 1)
        person.excellent = person.score >= policy.excellent
        person.lines.sort(key=lambda line: (line.at is None, line.at or datetime.min, line.ticket_id or 0))
    ranked = sorted(people.values(), key=lambda p: (-p.score, p.breaches, p.name, p.staff_id))
    for person in ranked:  # equal scores share a place: 1, 2, 2, 4
        person.rank = 1 + sum(1 for other in ranked if other.score > person.score)
    return Appraisal(period, scope, policy, ranked)


@dataclass(frozen=True)
class Charged:
    """A breach charged to someone in the period, counted or excused, with every ruling on it (oldest first)."""

    breach: PledgeBreach
    level: int  # the escalation level its round reached
    excused: bool
    rulings: list[BreachCorrection]


def charged(session: Session, period: Period, scope: Scope, tz: ZoneInfo) -> list[Charged]:
    """The breaches the appraisal reads for the period and scope, the excused ones too (so a supervisor
    can count one again), in the order they happened."""
    found = _breaches(session, period, scope, tz)
    rulings: defaultdict[int, list[BreachCorrection]] = defaultdict(list)
    ids = [breach.id for breach, _, _ in found if breach.id is not None]
    if ids:
        for ruling in session.exec(select(BreachCorrection).where(col(BreachCorrection.breach_id).in_(ids))
                                   .order_by(col(BreachCorrection.id))):
            rulings[ruling.breach_id].append(ruling)
    return sorted((Charged(breach, level, excused, rulings[breach.id or 0]) for breach, level, excused in found),
                  key=lambda item: (item.breach.breached_at, item.breach.id or 0))
