"""Satisfaction: what retailers said on the callbacks made in the period (seed 003 section 八).

A call counts in the month it was made. Scores (1-5) are shown as a distribution and a mean per
person who kept the reply or visit the call asked about, per group and per district. Each call's
confirmations are set beside the clocks: the retailer says the reply came in time but the clock
breached it (or the other way), the retailer says nobody came but a visit was recorded. Low scores
(2 or less) reopen the ticket; the report shows what happened after. A call records, when it is
made, who kept those rounds, what their clocks said and where the ticket is counted, so the report
reads the calls alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_
from sqlalchemy import select as core_select
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


def in_scope(period: Period, scope: Scope, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    """Calls made in the period, in the scope (a person: calls on tickets whose reply or visit they kept).
    A call carries what it asked about, so no round is read."""
    start, end = period.bounds(tz)
    conditions = [col(CallbackRecord.recorded_at) >= start, col(CallbackRecord.recorded_at) < end]
    if scope.district is not None:
        conditions.append(col(CallbackRecord.district) == scope.district)
    if scope.chat_group_id is not None:
        conditions.append(col(CallbackRecord.chat_group_id) == scope.chat_group_id)
    if scope.staff_id is not None:
        conditions.append(or_(col(CallbackRecord.reply_staff_id) == scope.staff_id,
                              col(CallbackRecord.visit_staff_id) == scope.staff_id))
    return conditions


LISTED = 200  # comments and low scores shown (the latest); the drill-down lists every call


def report(session: Session, period: Period, scope: Scope, tz: ZoneInfo) -> SatisfactionReport:
    """Counted in SQL (a month of a city-sized district has a hundred thousand calls); only the latest
    comments and low scores are read as rows."""
    conditions = in_scope(period, scope, tz)
    scored = [*conditions, col(CallbackRecord.reached).is_(True), col(CallbackRecord.score).is_not(None)]
    score = col(CallbackRecord.score)

    def grouped(*columns: Any, where: list[ColumnElement[bool]]) -> list[Any]:
        query = core_select(*columns, func.count()).select_from(CallbackRecord).where(*where).group_by(*columns)
        return list(session.execute(query).all())

    named = names(session)
    ((calls,),) = grouped(where=conditions)
    result = SatisfactionReport(period, scope, calls=calls, reached=0, scores=Scores(), by_person=[], by_group=[],
                                by_district=[], reply_check=Check(), visit_check=Check(),
                                items={item: dict.fromkeys(ANSWERS, 0) for item in ITEMS}, comments=[], low_scores=[])
    people: dict[int, Row] = {}
    groups: dict[int | None, Row] = {}
    districts: dict[str | None, Row] = {}
    answers = (col(CallbackRecord.supply_satisfaction), col(CallbackRecord.manager_satisfaction),
               col(CallbackRecord.handling_satisfaction))
    # one pass: the scores, the retailer's word beside the clocks, the items, the people, groups, districts
    for (value, said_reply, clock_reply, said_visit, clock_visit, replier, visitor, group_id, district, *given,
         count) in grouped(score, col(CallbackRecord.reply_in_time), col(CallbackRecord.reply_kept_in_time),
                           col(CallbackRecord.visit_happened), col(CallbackRecord.visit_kept),
                           col(CallbackRecord.reply_staff_id), col(CallbackRecord.visit_staff_id),
                           col(CallbackRecord.chat_group_id), col(CallbackRecord.district), *answers, where=scored):
        result.scores.counts[value] += count
        if said_reply is not None:
            _check(result.reply_check, bool(said_reply), bool(clock_reply), count)
        if said_visit is not None:
            _check(result.visit_check, bool(said_visit), bool(clock_visit), count)
        for item, answer in zip(ITEMS, given, strict=True):
            if answer in result.items[item]:
                result.items[item][answer] += count
        for person in dict.fromkeys((replier, visitor)):  # once for each person who kept its reply or visit
            if person is not None and scope.staff_id in (None, person):
                row = people.setdefault(person, Row(named.person(person), filters={"staff": str(person), **SCORED}))
                row.scores.counts[value] += count
        groups.setdefault(group_id, Row(named.group(group_id), filters={
            "group": "none" if group_id is None else str(group_id), **SCORED})).scores.counts[value] += count
        districts.setdefault(district, Row(district or "未分区", filters={
            "district": district or "none", **SCORED})).scores.counts[value] += count
    result.reached = result.scores.total
    result.by_person = sorted(people.values(), key=lambda row: (-row.scores.total, row.label))
    result.by_group = sorted(groups.values(), key=lambda row: (-row.scores.total, row.label))
    result.by_district = sorted(districts.values(), key=lambda row: (-row.scores.total, row.label))

    latest = select(CallbackRecord).order_by(col(CallbackRecord.recorded_at).desc(),
                                             col(CallbackRecord.id).desc()).limit(LISTED)
    commented = session.exec(latest.where(*conditions, col(CallbackRecord.comment).is_not(None),
                                          func.trim(col(CallbackRecord.comment)) != "")).all()
    result.comments = [Comment(call.ticket_id, call.recorded_at, call.score, (call.comment or "").strip())
                       for call in reversed(commented)]
    low = session.exec(latest.where(*scored, score <= LOW_SCORE)).all()
    result.low_scores = _after(session, list(reversed(low)))
    return result


def _check(check: Check, said: bool, clock: bool, count: int) -> None:
    check.asked += count
    if said == clock:
        check.agree += count
    elif said:
        check.said_yes_clock_no += count
    else:
        check.said_no_clock_yes += count


def _after(session: Session, calls: list[CallbackRecord]) -> list[LowScore]:
    """What followed each low score: the reply round it reopened (the first that started after the call),
    and the ticket now. Two queries for the lot."""
    ticket_ids = {call.ticket_id for call in calls}
    if not ticket_ids:
        return []
    rounds: dict[int, list[PledgeRound]] = {}
    for round_ in session.exec(select(PledgeRound).where(col(PledgeRound.ticket_id).in_(ticket_ids),
                                                         PledgeRound.kind == PledgeKind.REPLY)
                               .order_by(col(PledgeRound.round_no))):
        rounds.setdefault(round_.ticket_id, []).append(round_)
    closed = set(session.exec(select(Ticket.id).where(col(Ticket.id).in_(ticket_ids), Ticket.status == "closed")))
    found = []
    for call in calls:
        assert call.score is not None, "only scored calls are low"
        reopened = next((r for r in rounds.get(call.ticket_id, []) if r.started_at >= call.recorded_at), None)
        if reopened is None:
            after = "未重新打开"
        elif reopened.outcome == RoundOutcome.MET:
            after = "已重新处理并回复" + ("（超时）" if reopened.breached_at else "")
        elif reopened.outcome == RoundOutcome.RUNNING:
            after = "重新打开，待回复" + ("（已超时）" if reopened.breached_at else "")
        else:
            after = "重新打开后已取消"
        if call.ticket_id in closed:
            after += "；工单已关闭"
        found.append(LowScore(call.ticket_id, call.recorded_at, call.score, call.comment, after))
    return found
