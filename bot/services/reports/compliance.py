"""Pledge compliance: for the rounds started in the period, how many were kept in time, late, not at
all, are still running, or could not apply; per pledge, per owner, per group and per district.

Each round falls in exactly one bucket (`BUCKETS`), computed in SQL by one expression that both the
counts and the drill-down use, so a clicked number lists exactly the tickets it counted:

- met_in_time: met before its deadline;            - met_late: met after its breach;
- breached_open: breached and not met (running, or ended cancelled or not applicable after the breach);
- open: running, deadline not yet passed;          - not_applicable: could not be kept (unbound, unreachable);
- cancelled: stopped before its deadline (the ticket was closed, merged or reopened).

Due = met in time + met late + breached + open; the share met in time is over the decided ones
(met in time + met late + breached). First-reply time is the working time of first reply rounds an
agent met (the bot's answers aside); visit lead time that of met visit rounds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, and_, case, cast, func, literal
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from bot.models import ChatGroup, PledgeKind, PledgeRound, RoundOutcome, StaffMember
from bot.services.errors import ServiceError
from bot.services.reports.base import KIND_LABELS, Named, Period, Scope, Timing, share

BUCKETS = ("met_in_time", "met_late", "breached_open", "open", "not_applicable", "cancelled")
BUCKET_LABELS = {"met_in_time": "按时兑现", "met_late": "超时兑现", "breached_open": "超时未兑现",
                 "open": "进行中", "not_applicable": "无法兑现", "cancelled": "已取消"}


def bucket() -> ColumnElement[str]:
    """The bucket of a round, in SQL."""
    breached = col(PledgeRound.breached_at).is_not(None)
    outcome = col(PledgeRound.outcome)
    return case(
        (and_(outcome == RoundOutcome.MET, ~breached), literal("met_in_time")),
        (outcome == RoundOutcome.MET, literal("met_late")),
        (breached, literal("breached_open")),
        (outcome == RoundOutcome.RUNNING, literal("open")),
        (outcome == RoundOutcome.NOT_APPLICABLE, literal("not_applicable")),
        else_=literal("cancelled"))


def in_scope(period: Period, scope: Scope, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    """Rounds started in the period, in the scope (a person's scope: the rounds they owned)."""
    start, end = period.bounds(tz)
    conditions = [col(PledgeRound.started_at) >= start, col(PledgeRound.started_at) < end]
    if scope.district is not None:
        conditions.append(col(PledgeRound.district) == scope.district)
    if scope.chat_group_id is not None:
        conditions.append(col(PledgeRound.chat_group_id) == scope.chat_group_id)
    if scope.staff_id is not None:
        conditions.append(col(PledgeRound.owner_staff_id) == scope.staff_id)
    return conditions


def drill_conditions(filters: dict[str, str]) -> list[ColumnElement[bool]]:
    """The conditions of a drill-down link: kind, bucket, owner ('none': nobody), group ('none':
    private chats), district ('none': unknown). Unknown values are refused, not ignored."""
    conditions: list[ColumnElement[bool]] = []
    kind, wanted = filters.get("kind"), filters.get("bucket")
    if kind:
        if kind not in PledgeKind.__members__.values():
            raise ServiceError(f"没有「{kind}」这种承诺")
        conditions.append(col(PledgeRound.kind) == kind)
    if wanted:
        if wanted == "due":
            conditions.append(bucket().in_(("met_in_time", "met_late", "breached_open", "open")))
        elif wanted == "breached":
            conditions.append(bucket().in_(("met_late", "breached_open")))
        elif wanted in BUCKETS:
            conditions.append(bucket() == wanted)
        else:
            raise ServiceError(f"没有「{wanted}」这种统计项")
    for name, column in (("owner", PledgeRound.owner_staff_id), ("group", PledgeRound.chat_group_id)):
        value = filters.get(name)
        if value == "none":
            conditions.append(col(column).is_(None))
        elif value:
            if not value.isdigit():
                raise ServiceError(f"「{value}」不是编号")
            conditions.append(col(column) == int(value))
    district = filters.get("district")
    if district == "none":
        conditions.append(col(PledgeRound.district).is_(None))
    elif district:
        conditions.append(col(PledgeRound.district) == district)
    return conditions


@dataclass
class Tally:
    met_in_time: int = 0
    met_late: int = 0
    breached_open: int = 0
    open: int = 0
    not_applicable: int = 0
    cancelled: int = 0

    @property
    def due(self) -> int:
        return self.met_in_time + self.met_late + self.breached_open + self.open

    @property
    def breached(self) -> int:
        return self.met_late + self.breached_open

    @property
    def decided(self) -> int:
        return self.met_in_time + self.met_late + self.breached_open

    @property
    def in_time_share(self) -> float | None:
        return share(self.met_in_time, self.decided)

    def add(self, name: str, count: int) -> None:
        setattr(self, name, getattr(self, name) + count)


@dataclass
class Row:
    """One line of the report: what it is about, its counts, and the filters that drill into it."""

    label: str
    kind: str
    tally: Tally = field(default_factory=Tally)
    filters: dict[str, str] = field(default_factory=dict)


@dataclass
class Compliance:
    period: Period
    scope: Scope
    by_kind: list[Row]
    by_owner: list[Row]
    by_group: list[Row]
    by_district: list[Row]
    first_reply: Timing
    visit_lead: Timing
    callback_lead: Timing

    @property
    def callback_completion(self) -> float | None:
        """Callbacks made out of those due (unreachable and unbound ones are counted apart)."""
        callbacks = next((row.tally for row in self.by_kind if row.kind == PledgeKind.CALLBACK), Tally())
        return share(callbacks.met_in_time + callbacks.met_late, callbacks.due)


def names(session: Session) -> Named:
    return Named(staff={s.id: s.name for s in session.exec(select(StaffMember)) if s.id is not None},
                 groups={g.id: g.name or g.group_id for g in session.exec(select(ChatGroup)) if g.id is not None})


def _key(value: object) -> str:
    return "none" if value is None else str(value)


def report(session: Session, period: Period, scope: Scope, tz: ZoneInfo) -> Compliance:
    conditions = in_scope(period, scope, tz)
    columns = (col(PledgeRound.kind), col(PledgeRound.owner_staff_id), col(PledgeRound.chat_group_id),
               col(PledgeRound.district), bucket())
    counted = session.execute(core_select(*columns, func.count()).where(*conditions).group_by(*columns)).all()
    named = names(session)
    kinds: dict[str, Row] = {kind: Row(KIND_LABELS[kind], kind, filters={"kind": kind}) for kind in PledgeKind}
    owners: dict[tuple[str, str], Row] = {}
    groups: dict[tuple[str, str], Row] = {}
    districts: dict[tuple[str, str], Row] = {}
    for kind, owner, group, district, name, count in counted:
        kinds[kind].tally.add(name, count)
        owners.setdefault((kind, _key(owner)), Row(named.person(owner), kind, filters={
            "kind": kind, "owner": _key(owner)})).tally.add(name, count)
        groups.setdefault((kind, _key(group)), Row(named.group(group), kind, filters={
            "kind": kind, "group": _key(group)})).tally.add(name, count)
        districts.setdefault((kind, _key(district)), Row(district or "未分区", kind, filters={
            "kind": kind, "district": _key(district)})).tally.add(name, count)

    def ordered(rows: dict[tuple[str, str], Row]) -> list[Row]:
        order = {kind: n for n, kind in enumerate(PledgeKind)}
        return sorted(rows.values(), key=lambda row: (order[PledgeKind(row.kind)], -row.tally.due, row.label))

    timings = _timings(session, conditions)
    return Compliance(period, scope, list(kinds.values()), ordered(owners), ordered(groups), ordered(districts),
                      first_reply=timings[PledgeKind.REPLY], visit_lead=timings[PledgeKind.VISIT],
                      callback_lead=timings[PledgeKind.CALLBACK])


TIMING_GRAIN = 6  # seconds: working times are counted in steps of a tenth of a minute, the precision shown


def _timings(session: Session, conditions: list[ColumnElement[bool]]) -> dict[str, Timing]:
    """Working time of the met rounds a person kept, per pledge: for replies the first round only
    (first-reply time); the bot's answers and rounds from before the ledger (time unknown) aside. The
    database counts them per tenth of a minute, so a month of a city-sized district is a few thousand
    rows, not a few hundred thousand."""
    first = case((col(PledgeRound.round_no) == 1, True), else_=False)
    step = cast(col(PledgeRound.business_seconds) / TIMING_GRAIN, Integer)
    columns = (col(PledgeRound.kind), first, step)
    rows = session.execute(core_select(*columns, func.count()).where(
        *conditions, col(PledgeRound.outcome) == RoundOutcome.MET, col(PledgeRound.by_bot).is_(False),
        col(PledgeRound.business_seconds).is_not(None)).group_by(*columns))
    counts: dict[str, Counter[float]] = {kind: Counter() for kind in PledgeKind}
    for kind, is_first, steps, count in rows:
        if kind != PledgeKind.REPLY or is_first:
            counts[kind][steps * TIMING_GRAIN] += count
    return {kind: Timing.of_counts(histogram) for kind, histogram in counts.items()}
