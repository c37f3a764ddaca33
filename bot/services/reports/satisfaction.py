"""Satisfaction: what retailers said on the callbacks made in the period (seed 003 section 八).

A call counts in the month it was made. Scores (1-5) are shown as a distribution and a mean per
person who kept the reply or visit the call asked about, per group and per district (the reply
round's). Each call's confirmations are set beside the clocks: the retailer says the reply came in
time but the clock breached it (or the other way), the retailer says nobody came but a visit was
recorded. Low scores (2 or less) reopen the ticket; the report shows what happened after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot.models import CallbackRecord, PledgeKind, PledgeRound, RoundOutcome, Satisfaction, Ticket
from bot.services.pledges import LOW_SCORE
from bot.services.reports.base import Period, Scope, share
from bot.services.reports.compliance import names

ITEMS = {"supply": "货源供应", "manager": "客户经理服务", "handling": "处理问题的时效与结果"}
# A row counts the scored calls only: its drill-down says so (a person, group or district in a link's query is
# read as the scope, which holds every call made, reached or not).
SCORED = {"score": "scored"}
ANSWERS = {Satisfaction.SATISFIED: "满意", Satisfaction.FAIR: "一般", Satisfaction.DISSATISFIED: "不满意",
           Satisfaction.NOT_INVOLVED: "未涉及"}


@dataclass
class Scores:
    """A distribution of 1-5 scores."""

    counts: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))

    def add(self, score: int) -> None:
        self.counts[score] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def mean(self) -> float | None:
        return round(sum(s * n for s, n in self.counts.items()) / self.total, 2) if self.total else None

    @property
    def low(self) -> int:
        return sum(n for s, n in self.counts.items() if s <= LOW_SCORE)


@dataclass
class Row:
    label: str
    scores: Scores = field(default_factory=Scores)
    filters: dict[str, str] = field(default_factory=dict)


@dataclass
class Check:
    """The retailer's word on one pledge beside what the clock says."""

    asked: int = 0
    agree: int = 0
    said_yes_clock_no: int = 0  # 客户说及时 / 上门了, the clock says late / no visit recorded
    said_no_clock_yes: int = 0

    @property
    def disagree(self) -> int:
        return self.said_yes_clock_no + self.said_no_clock_yes


@dataclass(frozen=True)
class LowScore:
    ticket_id: int
    at: datetime
    score: int
    comment: str | None
    after: str  # what happened after the reopening, in words


@dataclass(frozen=True)
class Comment:
    ticket_id: int
    at: datetime
    score: int | None
    text: str


@dataclass
class SatisfactionReport:
    period: Period
    scope: Scope
    calls: int  # every call made, reached or not
    reached: int
    scores: Scores
    by_person: list[Row]
    by_group: list[Row]
    by_district: list[Row]
    reply_check: Check
    visit_check: Check
    items: dict[str, dict[str, int]]  # item -> answer -> count
    comments: list[Comment]
    low_scores: list[LowScore]

    @property
    def reach_share(self) -> float | None:
        return share(self.reached, self.calls)


def in_scope(period: Period, scope: Scope, tz: ZoneInfo, reply: type[PledgeRound],
             visit: type[PledgeRound]) -> list[ColumnElement[bool]]:
    """Calls made in the period, in the scope (a person: calls on tickets whose reply or visit they kept)."""
    start, end = period.bounds(tz)
    conditions = [col(CallbackRecord.recorded_at) >= start, col(CallbackRecord.recorded_at) < end]
    if scope.district is not None:
        conditions.append(col(reply.district) == scope.district)
    if scope.chat_group_id is not None:
        conditions.append(col(reply.chat_group_id) == scope.chat_group_id)
    if scope.staff_id is not None:
        conditions.append(or_(col(reply.met_by_staff_id) == scope.staff_id,
                              col(visit.met_by_staff_id) == scope.staff_id))
    return conditions


def rounds_asked_about() -> tuple[type[PledgeRound], type[PledgeRound]]:
    return aliased(PledgeRound), aliased(PledgeRound)


def report(session: Session, period: Period, scope: Scope, tz: ZoneInfo) -> SatisfactionReport:
    reply, visit = rounds_asked_about()
    rows = session.exec(
        select(CallbackRecord, reply, visit)
        .outerjoin(reply, col(reply.id) == CallbackRecord.reply_round_id)
        .outerjoin(visit, col(visit.id) == CallbackRecord.visit_round_id)
        .where(*in_scope(period, scope, tz, reply, visit))
        .order_by(col(CallbackRecord.recorded_at), col(CallbackRecord.id))).all()
    named = names(session)
    result = SatisfactionReport(period, scope, calls=len(rows), reached=0, scores=Scores(), by_person=[], by_group=[],
                                by_district=[], reply_check=Check(), visit_check=Check(),
                                items={item: dict.fromkeys(ANSWERS, 0) for item in ITEMS}, comments=[], low_scores=[])
    people: dict[int, Row] = {}
    groups: dict[str, Row] = {}
    districts: dict[str, Row] = {}
    low_tickets: list[CallbackRecord] = []
    for call, replied, visited in rows:
        if call.comment and call.comment.strip():
            result.comments.append(Comment(call.ticket_id, call.recorded_at, call.score, call.comment.strip()))
        if not call.reached or call.score is None:
            continue
        result.reached += 1
        result.scores.add(call.score)
        for person in dict.fromkeys(r.met_by_staff_id for r in (replied, visited) if r is not None):
            if person is not None and scope.staff_id in (None, person):
                people.setdefault(person, Row(named.person(person), filters={
                    "staff": str(person), **SCORED})).scores.add(call.score)
        group_id = replied.chat_group_id if replied else None
        district = replied.district if replied else None
        groups.setdefault(str(group_id), Row(named.group(group_id), filters={
            "group": "none" if group_id is None else str(group_id), **SCORED})).scores.add(call.score)
        districts.setdefault(str(district), Row(district or "未分区", filters={
            "district": district or "none", **SCORED})).scores.add(call.score)
        _check(result.reply_check, call.reply_in_time,
               replied is not None and replied.outcome == RoundOutcome.MET and replied.breached_at is None)
        _check(result.visit_check, call.visit_happened,
               visited is not None and visited.outcome == RoundOutcome.MET)
        for item, answer in (("supply", call.supply_satisfaction), ("manager", call.manager_satisfaction),
                             ("handling", call.handling_satisfaction)):
            if answer in result.items[item]:
                result.items[item][answer] += 1
        if call.score <= LOW_SCORE:
            low_tickets.append(call)
    result.by_person = sorted(people.values(), key=lambda row: (-row.scores.total, row.label))
    result.by_group = sorted(groups.values(), key=lambda row: (-row.scores.total, row.label))
    result.by_district = sorted(districts.values(), key=lambda row: (-row.scores.total, row.label))
    result.low_scores = [_after(session, call) for call in low_tickets]
    return result


def _check(check: Check, said: bool | None, clock: bool) -> None:
    if said is None:
        return
    check.asked += 1
    if said == clock:
        check.agree += 1
    elif said:
        check.said_yes_clock_no += 1
    else:
        check.said_no_clock_yes += 1


def _after(session: Session, call: CallbackRecord) -> LowScore:
    """What followed a low score: the reply round it reopened, and the ticket now."""
    assert call.score is not None, "only scored calls are low"
    reopened = session.exec(select(PledgeRound).where(
        PledgeRound.ticket_id == call.ticket_id, PledgeRound.kind == PledgeKind.REPLY,
        col(PledgeRound.started_at) >= call.recorded_at).order_by(col(PledgeRound.round_no)).limit(1)).first()
    ticket = session.get(Ticket, call.ticket_id)
    if reopened is None:
        after = "未重新打开"
    elif reopened.outcome == RoundOutcome.MET:
        after = "已重新处理并回复" + ("（超时）" if reopened.breached_at else "")
    elif reopened.outcome == RoundOutcome.RUNNING:
        after = "重新打开，待回复" + ("（已超时）" if reopened.breached_at else "")
    else:
        after = "重新打开后已取消"
    if ticket is not None and ticket.status == "closed":
        after += "；工单已关闭"
    return LowScore(call.ticket_id, call.recorded_at, call.score, call.comment, after)

