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

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, func, or_
from sqlalchemy import select as core_select
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
from bot.services.reports import satisfaction
from bot.services.reports.base import KIND_LABELS, Period, Scope

SCORED_ROLES = (Role.AGENT, Role.MANAGER, Role.CALLBACK)
ROLE_LABELS = {Role.AGENT: "客服员", Role.MANAGER: "客户经理", Role.CALLBACK: "回访员"}


class Deduction(NamedTuple):
    """One line of a person's score: points off (or the bonus, positive) and the ticket behind it. (A
    tuple: a city-sized month has tens of thousands.)"""

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


def _breach_conditions(period: Period, scope: Scope, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    """Breaches charged to someone in the period and scope (on `PledgeBreach` joined to its round)."""
    start, end = period.bounds(tz)
    conditions = [col(PledgeBreach.breached_at) >= start, col(PledgeBreach.breached_at) < end,
                  col(PledgeBreach.staff_id).is_not(None)]
    if scope.district is not None:
        conditions.append(col(PledgeRound.district) == scope.district)
    if scope.chat_group_id is not None:
        conditions.append(col(PledgeRound.chat_group_id) == scope.chat_group_id)
    if scope.staff_id is not None:
        conditions.append(col(PledgeBreach.staff_id) == scope.staff_id)
    return conditions


def _breaches(session: Session, period: Period, scope: Scope, tz: ZoneInfo) -> list[Any]:
    """Rows of (id, ticket_id, kind, staff_id, breached_at, level, excused): columns, not objects, since a
    city-sized month has tens of thousands."""
    columns: tuple[Any, ...] = (col(PledgeBreach.id), col(PledgeBreach.ticket_id), col(PledgeBreach.kind),
                                col(PledgeBreach.staff_id), col(PledgeBreach.breached_at),
                                col(PledgeRound.escalation_level).label("level"), excused().label("excused"))
    query = (core_select(*columns).join(PledgeRound, col(PledgeRound.id) == PledgeBreach.round_id)
             .where(*_breach_conditions(period, scope, tz)))
    return list(session.execute(query))


def _call_scores(session: Session, period: Period, scope: Scope, tz: ZoneInfo) -> dict[int, Counter[int]]:
    """Per person, how many scored calls of each score were made on tickets whose reply or visit they kept
    (a call counts once for a person who kept both), counted in SQL."""
    scored = [*satisfaction.in_scope(period, scope, tz), col(CallbackRecord.score).is_not(None)]
    replier, visitor, score = (col(CallbackRecord.reply_staff_id), col(CallbackRecord.visit_staff_id),
                               col(CallbackRecord.score))
    counts: defaultdict[int, Counter[int]] = defaultdict(Counter)
    for person, where in ((replier, [replier.is_not(None)]),
                          (visitor, [visitor.is_not(None), or_(replier.is_(None), visitor != replier)])):
        for staff_id, value, count in session.execute(
                core_select(person, score, func.count()).where(*scored, *where).group_by(person, score)):
            if scope.staff_id in (None, staff_id):
                counts[staff_id][value] += count
    return counts


def _low_calls(session: Session, period: Period, scope: Scope, tz: ZoneInfo) -> list[Any]:
    """The calls scored 2 or less, each a line off the score of whoever kept its reply or visit."""
    return list(session.execute(core_select(
        col(CallbackRecord.id), col(CallbackRecord.ticket_id), col(CallbackRecord.score),
        col(CallbackRecord.recorded_at), col(CallbackRecord.reply_staff_id).label("replier"),
        col(CallbackRecord.visit_staff_id).label("visitor")).where(
        *satisfaction.in_scope(period, scope, tz), col(CallbackRecord.score) <= LOW_SCORE)))


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

    missed = {kind: (label, f"{label}超时", -policy.breach_points.get(kind, 0.0))  # type: ignore[call-overload]
              for kind, label in KIND_LABELS.items()}
    for breach in _breaches(session, period, scope, tz):
        person = score_of(breach.staff_id)
        if breach.excused:
            person.excused += 1
            continue
        person.breaches += 1
        label, what, points = missed[breach.kind]
        person.lines.append(Deduction(breach.staff_id, breach.ticket_id, breach.breached_at, what, points,
                                      breach_id=breach.id))
        if breach.level > 1 and policy.level_points:
            person.lines.append(Deduction(breach.staff_id, breach.ticket_id, breach.breached_at,
                                          f"{label}超时后升级至 {breach.level} 级",
                                          -policy.level_points * (breach.level - 1), breach_id=breach.id))

    for call in _low_calls(session, period, scope, tz):
        served = (call.replier,) if call.visitor in (None, call.replier) else (call.replier, call.visitor)
        for staff_id in served:
            if staff_id is not None and scope.staff_id in (None, staff_id):
                person = score_of(staff_id)
                person.low_scores += 1
                person.lines.append(Deduction(staff_id, call.ticket_id, call.recorded_at, f"回访评分 {call.score} 分",
                                              -policy.low_score_points, callback_id=call.id))
    for staff_id, given in _call_scores(session, period, scope, tz).items():
        person = score_of(staff_id)
        calls = sum(given.values())
        person.calls, person.mean_score = calls, round(sum(v * n for v, n in given.items()) / calls, 2)
        if calls >= policy.bonus_min_calls and person.mean_score >= policy.bonus_mean:
            said = f"回访满意度均分 {person.mean_score}（{calls} 次）"
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
    found = session.exec(select(PledgeBreach, PledgeRound.escalation_level, excused())
                         .join(PledgeRound, col(PledgeRound.id) == PledgeBreach.round_id)
                         .where(*_breach_conditions(period, scope, tz))).all()
    rulings: defaultdict[int, list[BreachCorrection]] = defaultdict(list)
    ids = [breach.id for breach, _, _ in found if breach.id is not None]
    if ids:
        for ruling in session.exec(select(BreachCorrection).where(col(BreachCorrection.breach_id).in_(ids))
                                   .order_by(col(BreachCorrection.id))):
            rulings[ruling.breach_id].append(ruling)
    return sorted((Charged(breach, level, bool(excused), rulings[breach.id or 0]) for breach, level, excused in found),
                  key=lambda item: (item.breach.breached_at, item.breach.id or 0))
