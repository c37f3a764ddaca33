"""Storage models. Names follow shared/GLOSSARY.md.

Times are stored as naive UTC (the same on SQLite and PostgreSQL) and handed
back timezone-aware by `UTCDateTime`, so no code compares naive with aware.
Enumerations are stored as plain strings: adding a state needs no type
migration on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import configure_mappers
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use the clock")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class _Stored(Protocol):
    @property
    def id(self) -> int | None: ...


def id_of(row: _Stored) -> int:
    """A stored row's primary key: `id` is typed optional because it is None until the row is flushed."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id: it is not stored yet")
    return row.id


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table of a `table=True` model (SQLModel sets `__table__` without declaring it)."""
    return model.__table__  # type: ignore[attr-defined]


def due_of(pledge: Pledge) -> datetime:
    """A pledge's deadline: set when its clock starts and kept after it is met or stopped; `due_at` is
    typed optional only because the column is nullable."""
    if pledge.due_at is None:
        raise ValueError(f"pledge {pledge.id} has no due time: its clock was never started")
    return pledge.due_at


def started_of(pledge: Pledge) -> datetime:
    """When a pledge's current round started: set with its clock (start_reply, a restart); `started_at`
    is typed optional only because the column is nullable (pledges closed before clocks have none)."""
    if pledge.started_at is None:
        raise ValueError(f"pledge {pledge.id} has no start time: its clock was never started")
    return pledge.started_at


def _time(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class Role(StrEnum):
    AGENT = "agent"
    MANAGER = "manager"
    CALLBACK = "callback"
    SUPERVISOR = "supervisor"
    MARKETING = "marketing"  # publishes supply notices and new-product publicity
    ADMIN = "admin"


class Category(StrEnum):
    SUPPLY = "supply"
    TERMINAL = "terminal"
    LAUNCH = "launch"
    TRAINING = "training"
    MARKETING = "marketing"
    MONOPOLY = "monopoly"
    DELIVERY = "delivery"
    COMPLAINT = "complaint"
    OTHER = "other"


class TicketStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"  # by the knowledge base; a request for a person reopens it
    REPLIED = "replied"
    CLOSED = "closed"


class PledgeKind(StrEnum):
    REPLY = "reply"
    VISIT = "visit"
    CALLBACK = "callback"


class PledgeState(StrEnum):
    PENDING = "pending"
    PAUSED = "paused"
    MET = "met"
    CANCELLED = "cancelled"
    NOT_APPLICABLE = "not_applicable"  # cannot be kept (no phone to call back): reported apart, not a breach


class AuthorKind(StrEnum):
    RETAILER = "retailer"
    STAFF = "staff"
    BOT = "bot"
    SYSTEM = "system"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    CANCELLED = "cancelled"  # its broadcast was withdrawn before it went out
    DROPPED = "dropped"  # its reason was gone at send time (the pledge was met or restarted)


class Lane(IntEnum):
    """The outbox sends the lowest lane first: an answer never waits behind a backlog of notices."""

    REPLY = 0  # acknowledgements, the bot's answers, agents' replies
    STAFF = 1  # tasks and warnings to staff
    ESCALATION = 2  # breach notices, escalations, apologies
    BROADCAST = 3  # supply notices, publicity


class StaffMember(SQLModel, table=True):
    __tablename__ = "staff_member"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    work_no: str | None = Field(default=None, max_length=32)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    chat_user_id: str | None = Field(default=None, max_length=32, index=True)
    mobile: str | None = Field(default=None, max_length=20)  # a WeCom or DingTalk robot @-mentions by it
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    active: bool = True
    created_at: datetime = _time()

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


class Retailer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    license_no: str = Field(max_length=32, unique=True)
    customer_code: str | None = Field(default=None, max_length=32)
    store_name: str = Field(max_length=128)
    owner_name: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=256)
    district: str | None = Field(default=None, max_length=64, index=True)
    grade: int | None = None
    business_type: str | None = Field(default=None, max_length=32)
    manager_id: int | None = Field(default=None, foreign_key="staff_member.id", index=True)
    ordering_day: str | None = Field(default=None, max_length=64)
    delivery_day: str | None = Field(default=None, max_length=64)
    visit_cycle: str | None = Field(default=None, max_length=64)
    active: bool = True
    created_at: datetime = _time()
    updated_at: datetime = _time()


class RetailerChange(SQLModel, table=True):
    """History of the fields that route work: grade (quotas) and account manager (visits)."""

    __tablename__ = "retailer_change"

    id: int | None = Field(default=None, primary_key=True)
    retailer_id: int = Field(foreign_key="retailer.id", index=True)
    field: str = Field(max_length=32)
    old_value: str | None = Field(default=None, max_length=64)
    new_value: str | None = Field(default=None, max_length=64)
    source: str = Field(max_length=16)
    changed_by_staff_id: int | None = Field(default=None, foreign_key="staff_member.id")
    changed_at: datetime = _time()


class DirectoryAlias(SQLModel, table=True):
    """A header spelling or 业态 name added in the console: kept in the store, so the import of every
    instance reads the same names (the built-in ones and the policy file's are not stored here)."""

    __tablename__ = "directory_alias"
    __table_args__ = (UniqueConstraint("kind", "alias_key"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # header, business_type
    target: str = Field(max_length=32)  # the field a header fills, or the canonical 业态
    alias: str = Field(max_length=32)  # as typed
    alias_key: str = Field(max_length=32)  # as the import compares it
    created_by_staff_id: int | None = Field(default=None, foreign_key="staff_member.id")
    created_at: datetime = _time()


class BindHint(SQLModel, table=True):
    """The day an unbound sender was last told how to bind, so it is said once a day."""

    __tablename__ = "bind_hint"
    __table_args__ = (UniqueConstraint("platform", "chat_user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    chat_user_id: str = Field(max_length=32)
    day: str = Field(max_length=10)


class ChatBinding(SQLModel, table=True):
    """A chat account tied to a licence: one account, one licence."""

    __tablename__ = "chat_binding"
    __table_args__ = (UniqueConstraint("platform", "chat_user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    chat_user_id: str = Field(max_length=32)
    retailer_id: int = Field(foreign_key="retailer.id", index=True)
    bound_by_staff_id: int | None = Field(default=None, foreign_key="staff_member.id")
    bound_at: datetime = _time()


class BindAttempt(SQLModel, table=True):
    """Failed self-binding tries per account and local day, to stop probing."""

    __tablename__ = "bind_attempt"
    __table_args__ = (UniqueConstraint("platform", "chat_user_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    chat_user_id: str = Field(max_length=32)
    day: str = Field(max_length=10)
    failures: int = 0


class ChatGroup(SQLModel, table=True):
    __tablename__ = "chat_group"
    __table_args__ = (UniqueConstraint("platform", "group_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(default="qq", max_length=16)
    group_id: str = Field(max_length=32)
    name: str | None = Field(default=None, max_length=128)
    district: str | None = Field(default=None, max_length=64)
    bot_id: str | None = Field(default=None, max_length=32)
    active: bool = True
    created_at: datetime = _time()


class BotAccount(SQLModel, table=True):
    """A bot account (a QQ number) the service has seen connect or post; written by `accounts`."""

    __tablename__ = "bot_account"
    __table_args__ = (UniqueConstraint("platform", "bot_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(default="qq", max_length=16)
    bot_id: str = Field(max_length=32)
    first_seen_at: datetime = _time()
    groups_listed_at: datetime | None = _time(nullable=True)  # when the platform last gave its group list


class BotMembership(SQLModel, table=True):
    """A bot account is in a group: group messages go out only through such an account. `source` is
    where it was learnt: `platform` (the group list at connect), `message` (a message came through it)
    or `admin` (added by hand; a new group list does not remove it). Written by `accounts` only."""

    __tablename__ = "bot_membership"
    __table_args__ = (UniqueConstraint("platform", "group_id", "bot_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(default="qq", max_length=16)
    group_id: str = Field(max_length=32)
    bot_id: str = Field(max_length=32, index=True)
    source: str = Field(max_length=16)
    created_at: datetime = _time()


class Ticket(SQLModel, table=True):
    __table_args__ = (
        Index("ix_ticket_thread", "chat_group_id", "sender_user_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(default="qq", max_length=16)
    chat_group_id: int | None = Field(default=None, foreign_key="chat_group.id")  # None: asked in private chat
    retailer_id: int | None = Field(default=None, foreign_key="retailer.id", index=True)
    sender_user_id: str = Field(max_length=32)
    sender_name: str | None = Field(default=None, max_length=64)
    category: str = Field(default=Category.OTHER, sa_type=String(16), index=True)
    status: str = Field(default=TicketStatus.OPEN, sa_type=String(16), index=True)
    trading_flag: bool = False
    # staff found it asks nothing (chatter the bot took for a request): closed, and not counted as a request
    asked_nothing: bool = Field(default=False, index=True)
    knowledge_entry_id: str | None = Field(default=None, max_length=64)
    text: str = Field(sa_type=Text)  # the request that opened it
    latest_text: str | None = Field(default=None, sa_type=Text)  # the retailer's latest words on it
    created_at: datetime = _time(index=True)
    updated_at: datetime = _time()
    last_message_at: datetime = _time()
    closed_at: datetime | None = _time(nullable=True)


class TicketMessage(SQLModel, table=True):
    """Every chat message of a ticket, so a quote of any of them finds it."""

    __tablename__ = "ticket_message"
    __table_args__ = (UniqueConstraint("chat_group_id", "message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    chat_group_id: int | None = Field(default=None, foreign_key="chat_group.id")
    message_id: str | None = Field(default=None, max_length=64)
    author_kind: str = Field(sa_type=String(16))
    author_id: str | None = Field(default=None, max_length=32)
    text: str = Field(sa_type=Text)
    created_at: datetime = _time()


class UnticketedLine(SQLModel, table=True):
    """A retailer's group line the bot opened no ticket for (chatter, or a detail asking nothing), kept a week so
    staff can make a ticket of one the bot misread (建单); then `ticket_id` says which."""

    __tablename__ = "unticketed_line"
    __table_args__ = (Index("ix_unticketed_line_message", "chat_group_id", "message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(default="qq", max_length=16)
    chat_group_id: int = Field(foreign_key="chat_group.id")
    message_id: str | None = Field(default=None, max_length=64)
    sender_user_id: str = Field(max_length=32)
    sender_name: str | None = Field(default=None, max_length=64)
    text: str = Field(sa_type=Text)
    reason: str = Field(sa_type=String(16))  # small_talk or not_a_request: what the bot read
    said_at: datetime = _time(index=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    ticketed_by: int | None = Field(default=None, foreign_key="staff_member.id")
    ticketed_at: datetime | None = _time(nullable=True)


class TicketEvent(SQLModel, table=True):
    """Append-only trail of a ticket: who did what, when."""

    __tablename__ = "ticket_event"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime = _time()
    actor_kind: str = Field(sa_type=String(16))
    actor_id: str | None = Field(default=None, max_length=32)
    action: str = Field(max_length=32)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class KnowledgeEntry(SQLModel, table=True):
    """One topic of the knowledge base, as every instance reads it (seeded from `knowledge/entries/`).
    Written only by `bot.services.knowledge`; never deleted, only retired."""

    __tablename__ = "knowledge_entry"

    id: str = Field(primary_key=True, max_length=64)  # column.name
    column: str = Field(sa_type=String(16), index=True)
    question: str = Field(sa_type=Text)
    similar: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    answer: str = Field(sa_type=Text)
    personal_answer: str | None = Field(default=None, sa_type=Text)
    links: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reviewed: date
    retired: bool = False
    revision: int  # the store's version when this entry last changed: an editor's stale copy is refused
    updated_at: datetime = _time()
    updated_by: int | None = Field(default=None, foreign_key="staff_member.id")


class KnowledgeState(SQLModel, table=True):
    """The knowledge base's version (one row): raised by every change in its own transaction, so each
    instance rebuilds its index when the stored version is not the one it built."""

    __tablename__ = "knowledge_state"

    id: int = Field(default=1, primary_key=True)
    version: int = 0
    changed_at: datetime | None = _time(nullable=True)


class LookupVersion(SQLModel, table=True):
    """The version of one table intake keeps in memory (`lookups`): raised by every change to it in the
    change's transaction, so each instance forgets its copy when the stored version is not the one it read."""

    __tablename__ = "lookup_version"

    kind: str = Field(primary_key=True, max_length=16)  # the table's name
    version: int = 0


class Pledge(SQLModel, table=True):
    """One of a ticket's three pledges, with its clock.

    `next_check_at` is the next moment the sweep has something to do for it
    (warn, breach, the next escalation level), so a sweep reads only what is
    due, however many pledges are open.
    """

    __table_args__ = (
        UniqueConstraint("ticket_id", "kind"),
        Index("ix_pledge_next_check", "state", "next_check_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    kind: str = Field(sa_type=String(16))
    owner_role: str = Field(sa_type=String(16))
    owner_staff_id: int | None = Field(default=None, foreign_key="staff_member.id")
    state: str = Field(default=PledgeState.PENDING, sa_type=String(16))
    state_reason: str | None = Field(default=None, max_length=128)  # why cancelled or not applicable
    due_at: datetime | None = _time(nullable=True)
    met_at: datetime | None = _time(nullable=True)
    met_by_staff_id: int | None = Field(default=None, foreign_key="staff_member.id")
    created_at: datetime = _time()
    started_at: datetime | None = _time(nullable=True)
    warn_at: datetime | None = _time(nullable=True)
    warned_at: datetime | None = _time(nullable=True)
    breached_at: datetime | None = _time(nullable=True)
    escalation_level: int = 0
    next_check_at: datetime | None = _time(nullable=True)
    paused_at: datetime | None = _time(nullable=True)
    remaining_seconds: float | None = None


class RoundOutcome(StrEnum):
    RUNNING = "running"
    MET = "met"
    CANCELLED = "cancelled"
    NOT_APPLICABLE = "not_applicable"


class PledgeRound(SQLModel, table=True):
    """One run of a pledge's clock, from its start to its end, with the facts the reports count.

    A pledge row keeps only its current clock; a reopening restarts it and the earlier round would be
    lost. Rounds are written as things happen (by `ledger`), so reports never re-derive history.
    """

    __tablename__ = "pledge_round"
    __table_args__ = (
        UniqueConstraint("pledge_id", "round_no"),
        Index("ix_pledge_round_period", "started_at", "kind"),
        Index("ix_pledge_round_owner_period", "owner_staff_id", "started_at"),  # a person's reports
    )

    id: int | None = Field(default=None, primary_key=True)
    pledge_id: int = Field(foreign_key="pledge.id")
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    round_no: int = 1
    kind: str = Field(sa_type=String(16))
    reason: str = Field(max_length=32)  # why it started: opened, handover, not solved, staff, low satisfaction ...
    category: str = Field(sa_type=String(16))
    chat_group_id: int | None = Field(default=None, foreign_key="chat_group.id")
    district: str | None = Field(default=None, max_length=64)
    owner_staff_id: int | None = Field(default=None, foreign_key="staff_member.id")  # frozen when it ends
    started_at: datetime = _time()
    due_at: datetime = _time()  # moves when a pause ends
    warned_at: datetime | None = _time(nullable=True)
    breached_at: datetime | None = _time(nullable=True)
    escalation_level: int = 0
    ended_at: datetime | None = _time(nullable=True)
    outcome: str = Field(default=RoundOutcome.RUNNING, sa_type=String(16))
    outcome_reason: str | None = Field(default=None, max_length=128)
    met_by_staff_id: int | None = Field(default=None, foreign_key="staff_member.id")
    by_bot: bool = False  # met by the knowledge base's answer
    business_seconds: float | None = None  # working time from start to end on its calendar, pauses left out
    paused_seconds: float = 0  # working time spent paused


class PledgePause(SQLModel, table=True):
    """A clock stopped while the ticket waited for the retailer: who, why and for how long."""

    __tablename__ = "pledge_pause"

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="pledge_round.id", index=True)
    ticket_id: int = Field(foreign_key="ticket.id")
    paused_at: datetime = _time()
    paused_by_staff_id: int | None = Field(default=None, foreign_key="staff_member.id")
    reason: str | None = Field(default=None, max_length=200)
    resumed_at: datetime | None = _time(nullable=True)
    resumed_by_staff_id: int | None = Field(default=None, foreign_key="staff_member.id")
    resume_reason: str | None = Field(default=None, max_length=200)
    business_seconds: float | None = None  # working time it stood still, set when it ends


class PledgeBreach(SQLModel, table=True):
    """A pledge missed its deadline, charged to one person (or to nobody): never changed once written.

    An unclaimed reply is charged to each agent on duty, one row each. A supervisor who finds a breach
    unfair adds a `BreachCorrection`; this row stays as it was.
    """

    __tablename__ = "pledge_breach"

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="pledge_round.id", index=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    kind: str = Field(sa_type=String(16))
    staff_id: int | None = Field(default=None, foreign_key="staff_member.id", index=True)
    due_at: datetime = _time()
    breached_at: datetime = _time(index=True)


class BreachCorrection(SQLModel, table=True):
    """A supervisor's ruling on a breach, with who and why: the latest one decides whether it counts."""

    __tablename__ = "breach_correction"

    id: int | None = Field(default=None, primary_key=True)
    breach_id: int = Field(foreign_key="pledge_breach.id", index=True)
    excused: bool  # true: not counted against the person; false: counted again
    reason: str = Field(max_length=200)
    by_staff_id: int = Field(foreign_key="staff_member.id")
    at: datetime = _time()


class VisitOutcome(StrEnum):
    """How a visit left the retailer's problem."""

    RESOLVED = "resolved"  # 已解决
    PARTLY = "partly"  # 部分解决
    UNRESOLVED = "unresolved"  # 未解决，需跟进


class Satisfaction(StrEnum):
    """A callback's answer to one satisfaction item of seed 003 §八."""

    SATISFIED = "satisfied"  # 满意
    FAIR = "fair"  # 一般
    DISSATISFIED = "dissatisfied"  # 不满意
    NOT_INVOLVED = "not_involved"  # 未涉及


class VisitRecord(SQLModel, table=True):
    """An account manager's on-site visit for a ticket."""

    __tablename__ = "visit_record"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    staff_id: int = Field(foreign_key="staff_member.id")
    visited_at: datetime = _time()
    action: str = Field(sa_type=Text)
    notes: str | None = Field(default=None, sa_type=Text)
    outcome: str | None = Field(default=None, max_length=16)  # VisitOutcome; None from the chat command
    photo_url: str | None = Field(default=None, max_length=500)  # a link to a photo taken on site
    recorded_at: datetime = _time()


class CallbackRecord(SQLModel, table=True):
    """One satisfaction call to the retailer (reached or not)."""

    __tablename__ = "callback_record"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    staff_id: int = Field(foreign_key="staff_member.id")
    reached: bool
    score: int | None = None
    reply_in_time: bool | None = None
    visit_happened: bool | None = None
    # the satisfaction items (Satisfaction) asked where they apply; None: not asked
    supply_satisfaction: str | None = Field(default=None, max_length=16)  # 货源供应
    manager_satisfaction: str | None = Field(default=None, max_length=16)  # 客户经理服务
    handling_satisfaction: str | None = Field(default=None, max_length=16)  # 处理问题的时效与结果
    comment: str | None = Field(default=None, sa_type=Text)
    # the rounds this call asked about, and what they said when it was made: who kept the reply and the
    # visit, whether the clocks were kept, where the ticket is counted (reports read these, not the rounds)
    reply_round_id: int | None = Field(default=None, foreign_key="pledge_round.id")
    visit_round_id: int | None = Field(default=None, foreign_key="pledge_round.id")
    reply_staff_id: int | None = Field(default=None, foreign_key="staff_member.id")
    visit_staff_id: int | None = Field(default=None, foreign_key="staff_member.id")
    reply_kept_in_time: bool | None = None  # the reply round was met before its deadline (None: no reply round)
    visit_kept: bool | None = None  # a visit round was met (None: no visit was needed)
    chat_group_id: int | None = Field(default=None, foreign_key="chat_group.id")
    district: str | None = Field(default=None, max_length=64)
    recorded_at: datetime = _time(index=True)


class OutboxMessage(SQLModel, table=True):
    """A proactive message, stored before it is sent so nothing is lost."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_sent_message", "target_id", "sent_message_id"),  # a quote of it finds its tickets
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    bot_id: str | None = Field(default=None, max_length=32)
    target_kind: str = Field(sa_type=String(8))
    target_id: str = Field(max_length=32)
    text: str = Field(sa_type=Text)
    reply_to: str | None = Field(default=None, max_length=64)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    dedupe_key: str | None = Field(default=None, max_length=128, unique=True)
    status: str = Field(default=OutboxStatus.PENDING, sa_type=String(16))
    attempts: int = 0
    next_attempt_at: datetime = _time()
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = _time(nullable=True)
    last_error: str | None = Field(default=None, sa_type=Text)
    sent_message_id: str | None = Field(default=None, max_length=64)
    image_url: str | None = Field(default=None, max_length=512)
    via_group_id: str | None = Field(default=None, max_length=32)  # a private message to a group member
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id", index=True)
    lane: int = Field(default=Lane.BROADCAST, sa_column_kwargs={"server_default": "3"})
    kind: str | None = Field(default=None, max_length=16)  # outbox.MENTIONING kinds combined, "escalation" digested
    pledge_id: int | None = Field(default=None, foreign_key="pledge.id", index=True)  # dropped once it is met
    mention_user_id: str | None = Field(default=None, max_length=32)  # whom a combined acknowledgement names
    mentions: str | None = Field(default=None, max_length=512)  # a robot's message: mobiles to @, comma-separated
    created_at: datetime = _time()
    sent_at: datetime | None = _time(nullable=True)


class NoticeState(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    CORRECTED = "corrected"  # published, then changed: a 更正 went out
    WITHDRAWN = "withdrawn"


class Approval(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Product(SQLModel, table=True):
    """A cigarette product (品规) as supply notices and launches name it."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)  # 中华(软)
    brand: str = Field(max_length=32, index=True)  # 中华
    spec: str | None = Field(default=None, max_length=64)  # 软盒 84mm
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    wholesale_price: Decimal | None = Field(default=None, max_digits=10, decimal_places=2)  # per carton
    retail_price: Decimal | None = Field(default=None, max_digits=10, decimal_places=2)  # per pack
    price_class: str | None = Field(default=None, max_length=1)
    manufacturer: str | None = Field(default=None, max_length=64)
    created_at: datetime = _time()


class SupplyNotice(SQLModel, table=True):
    """One period's supply: what can be ordered, when, and how much per grade."""

    __tablename__ = "supply_notice"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=128)
    period_start: date
    period_end: date
    order_opens_at: datetime = _time()
    order_closes_at: datetime = _time()
    notes: str | None = Field(default=None, sa_type=Text)
    districts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    group_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    state: str = Field(default=NoticeState.DRAFT, sa_type=String(16), index=True)
    publish_at: datetime | None = _time(nullable=True, index=True)
    published_at: datetime | None = _time(nullable=True)
    withdrawn_at: datetime | None = _time(nullable=True)
    revision: int = 0
    created_by_staff_id: int | None = Field(default=None, foreign_key="staff_member.id")
    created_at: datetime = _time()
    updated_at: datetime = _time()


class SupplyItem(SQLModel, table=True):
    """A product in a notice, with its quota per grade range in cartons."""

    __tablename__ = "supply_item"
    __table_args__ = (UniqueConstraint("notice_id", "product_id"),)

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="supply_notice.id", index=True)
    product_id: int = Field(foreign_key="product.id")
    position: int = 0
    quotas: list[dict[str, int]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    scarce: bool = False
    note: str | None = Field(default=None, max_length=128)


class Launch(SQLModel, table=True):
    """A new product's launch: its card and who may see its publicity."""

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    launch_date: date
    selling_points: str = Field(sa_type=Text)
    image_url: str | None = Field(default=None, max_length=512)
    source: str = Field(default="district", max_length=16)  # district or manufacturer
    approval: str = Field(default=Approval.PENDING, sa_type=String(16))
    approved_by_staff_id: int | None = Field(default=None, foreign_key="staff_member.id")
    approved_at: datetime | None = _time(nullable=True)
    districts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    group_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by_staff_id: int | None = Field(default=None, foreign_key="staff_member.id")
    created_at: datetime = _time()


class PublicityPost(SQLModel, table=True):
    """One post of a launch's publicity plan, sent at its time once the launch is approved."""

    __tablename__ = "publicity_post"

    id: int | None = Field(default=None, primary_key=True)
    launch_id: int = Field(foreign_key="launch.id", index=True)
    send_at: datetime = _time(index=True)
    kind: str = Field(max_length=16)  # before, launch_day, after
    note: str | None = Field(default=None, max_length=256)
    state: str = Field(default="scheduled", sa_type=String(16))  # scheduled, sent, cancelled
    sent_at: datetime | None = _time(nullable=True)


class Broadcast(SQLModel, table=True):
    """One message sent to many groups: a notice, its correction or withdrawal, a publicity post."""

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=16)  # supply or launch
    subject_id: int = Field(index=True)
    purpose: str = Field(max_length=16)  # notice, correction, withdrawal, publicity
    revision: int = 0
    text: str = Field(sa_type=Text)
    created_at: datetime = _time()


class Delivery(SQLModel, table=True):
    """A broadcast's delivery to one group; its outbox rows (one per part) tell how it went."""

    __table_args__ = (UniqueConstraint("broadcast_id", "chat_group_id"),)

    id: int | None = Field(default=None, primary_key=True)
    broadcast_id: int = Field(foreign_key="broadcast.id", index=True)
    chat_group_id: int = Field(foreign_key="chat_group.id")
    parts: int = 1


class Interest(SQLModel, table=True):
    """A retailer asked about a notice or product, or answered a publicity post."""

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=16)  # supply or launch
    subject_id: int = Field(index=True)
    product_id: int | None = Field(default=None, foreign_key="product.id")
    kind: str = Field(max_length=16)  # asked, want, not_interested
    chat_group_id: int | None = Field(default=None, foreign_key="chat_group.id")
    platform: str = Field(max_length=16)
    chat_user_id: str = Field(max_length=32)
    retailer_id: int | None = Field(default=None, foreign_key="retailer.id")
    created_at: datetime = _time()


class ConsoleSession(SQLModel, table=True):
    """A staff member signed in to the web console; the cookie holds a token whose SHA-256 is `token_hash`."""

    __tablename__ = "console_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    staff_id: int = Field(foreign_key="staff_member.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _time()
    expires_at: datetime = _time()
    last_seen_at: datetime = _time()
    ended_at: datetime | None = _time(nullable=True)
    address: str | None = Field(default=None, max_length=64)


class LoginLink(SQLModel, table=True):
    """A one-time console sign-in link sent privately to a staff member's chat account (code stored hashed)."""

    __tablename__ = "login_link"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    staff_id: int = Field(foreign_key="staff_member.id", index=True)
    platform: str = Field(max_length=16)
    chat_user_id: str = Field(max_length=32)
    created_at: datetime = _time()
    expires_at: datetime = _time()
    used_at: datetime | None = _time(nullable=True)


class MediaFile(SQLModel, table=True):
    """A picture staff uploaded (a launch's image), kept in the database so every instance serves it."""

    __tablename__ = "media_file"

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, unique=True)
    content_type: str = Field(max_length=32)
    size: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_by_staff_id: int | None = Field(default=None, foreign_key="staff_member.id")
    created_at: datetime = _time()


# Mapped now, not at the first query: rows built without validation (`model_construct`, on the outbox's
# hot path) need the mapped attributes from the start.
configure_mappers()
