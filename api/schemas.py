"""Request and response bodies. Inputs are strict: unknown fields are refused."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bot.fields import Body, Id, Moment
from bot.models import CallbackRecord, Category, ChatGroup, Retailer, Role, Satisfaction, StaffMember, VisitOutcome
from bot.services.access import View

T = TypeVar("T")
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
ChatId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{4,20}$")]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[\d\- +]{5,20}$")]
Mobile = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^1\d{10}$")]  # a robot @-mentions by it


Input = Body


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(Output, Generic[T]):
    total: int
    items: list[T]


class ReplyIn(Input):
    text: Text
    confirm: bool = Field(False, description="reply although another agent has taken the ticket")


class ClaimIn(Input):
    confirm: bool = Field(False, description="take the ticket over from the agent who has it")


class AssignIn(Input):
    staff_id: Id
    kind: Literal["reply", "visit", "callback"] = "reply"


class MergeIn(Input):
    target_id: Id = Field(description="the ticket of the same sender that this duplicate goes into")


class ClockChangeIn(Input):
    """Why a pledge's clock pauses or resumes: kept on the ticket's trail."""

    nullable = frozenset({"reason"})

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None


class CategoryIn(Input):
    category: Category = Field(description="the right category; a complaint orders a visit by its rule")


class UnticketedIn(Input):
    """建单 on a line the bot left alone."""

    nullable = frozenset({"category"})

    category: Category | None = Field(None, description="the request's category; none: the one the intake model "
                                      "finds likeliest")


class UnticketedOut(Output):
    """A retailer's group line the bot opened no ticket for (kept a week)."""

    id: int
    chat_group_id: int
    message_id: str | None
    sender_user_id: str
    sender_name: str | None
    text: str = Field(description="personal data masked, as in a group message")
    reason: str = Field(description="what the bot read: small_talk, or not_a_request (a detail asking nothing)")
    said_at: datetime
    ticket_id: int | None = Field(description="the ticket staff made of it, if any")


class CloseIn(Input):
    nullable = frozenset({"note"})

    note: Annotated[str, StringConstraints(max_length=1000)] | None = None


class TicketOut(Output):
    id: int
    platform: str
    chat_group_id: int | None = Field(description="the group it was asked in; none when asked in private chat")
    retailer_id: int | None
    sender_user_id: str
    sender_name: str | None
    category: str
    status: str
    trading_flag: bool
    asked_nothing: bool = Field(description="staff marked it as asking nothing (不是诉求): closed, not counted as a "
                                            "request")
    text: str
    latest_text: str | None = Field(description="the retailer's latest words on the ticket")
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class MessageOut(Output):
    id: int
    message_id: str | None
    author_kind: str
    author_id: str | None
    text: str
    created_at: datetime


class EventOut(Output):
    id: int
    at: datetime
    actor_kind: str
    actor_id: str | None
    action: str
    detail: dict[str, Any]


class PledgeOut(Output):
    id: int
    kind: str
    owner_role: str
    owner_staff_id: int | None
    state: str
    state_reason: str | None
    due_at: datetime | None
    met_at: datetime | None
    met_by_staff_id: int | None


class StaffIn(Input):
    stored_as = StaffMember

    name: Name
    work_no: Annotated[str, StringConstraints(max_length=32)] | None = None
    roles: list[Role] = Field(min_length=1)
    chat_user_id: ChatId | None = None
    mobile: Mobile | None = None


class StaffUpdate(Input):
    stored_as = StaffMember

    name: Name | None = None
    work_no: Annotated[str, StringConstraints(max_length=32)] | None = None
    roles: list[Role] | None = Field(default=None, min_length=1)
    chat_user_id: ChatId | None = None
    mobile: Mobile | None = None
    active: bool | None = None


class StaffOut(Output):
    id: int
    name: str
    work_no: str | None
    roles: list[str]
    chat_user_id: str | None
    mobile: str | None
    active: bool


class StaffWithToken(StaffOut):
    token: str = Field(description="只显示这一次，请妥善保存")


class GroupIn(Input):
    stored_as = ChatGroup

    platform: Annotated[str, StringConstraints(pattern=r"^(qq|console)$")] = "qq"
    group_id: ChatId
    name: Annotated[str, StringConstraints(max_length=128)] | None = None
    district: Annotated[str, StringConstraints(max_length=64)] | None = None


class GroupUpdate(Input):
    stored_as = ChatGroup

    name: Annotated[str, StringConstraints(max_length=128)] | None = None
    district: Annotated[str, StringConstraints(max_length=64)] | None = None
    active: bool | None = None


class GroupOut(Output):
    id: int
    platform: str
    group_id: str
    name: str | None
    district: str | None
    bot_id: str | None
    active: bool


class RetailerFields(Input):
    stored_as = Retailer

    customer_code: Annotated[str, StringConstraints(max_length=32)] | None = None
    store_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] | None = None
    owner_name: Annotated[str, StringConstraints(max_length=64)] | None = None
    phone: Phone | None = None
    address: Annotated[str, StringConstraints(max_length=256)] | None = None
    district: Annotated[str, StringConstraints(max_length=64)] | None = None
    grade: Annotated[int, Field(ge=1, le=30)] | None = None
    business_type: Annotated[str, StringConstraints(max_length=32)] | None = None
    manager_id: Id | None = None
    ordering_day: Annotated[str, StringConstraints(max_length=64)] | None = None
    delivery_day: Annotated[str, StringConstraints(max_length=64)] | None = None
    visit_cycle: Annotated[str, StringConstraints(max_length=64)] | None = None


LicenseNo = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z]{6,32}$")]


class RetailerIn(RetailerFields):
    license_no: LicenseNo
    store_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class RetailerUpdate(RetailerFields):
    license_no: LicenseNo | None = None
    active: bool | None = None


class RetailerForAgent(Output):
    """What an agent needs to serve a ticket: no phone, owner or address."""

    id: int
    license_no: str
    store_name: str
    district: str | None
    grade: int | None
    business_type: str | None
    manager_id: int | None
    ordering_day: str | None
    delivery_day: str | None
    active: bool


class RetailerForCallback(RetailerForAgent):
    """Callback staff also need whom to call."""

    owner_name: str | None
    phone: str | None


class RetailerOut(RetailerForCallback):
    customer_code: str | None
    address: str | None
    visit_cycle: str | None


# The schema of each view of a retailer (`bot.services.access`).
RETAILER_VIEWS: dict[View, type[RetailerForAgent]] = {
    View.FULL: RetailerOut, View.CALLBACK: RetailerForCallback, View.SERVICE: RetailerForAgent}
AnyRetailerOut = RetailerOut | RetailerForCallback | RetailerForAgent


class TicketDetailOut(TicketOut):
    """Texts in the caller's view: for agents, numbers in them are masked as in a group."""

    messages: list[MessageOut]
    events: list[EventOut]
    pledges: list[PledgeOut]
    retailer: AnyRetailerOut | None = Field(description="the shop, in the caller's view; null for an unbound sender")


class RetailerChangeOut(Output):
    id: int
    field: str
    old_value: str | None
    new_value: str | None
    source: str
    changed_by_staff_id: int | None
    changed_at: datetime


class TerritoryTransferIn(Input):
    """`district` or `retailer_ids` left out or null: the whole territory."""

    nullable = frozenset({"district", "retailer_ids"})

    from_manager_id: Id
    to_manager_id: Id
    district: Annotated[str, StringConstraints(max_length=64)] | None = None
    retailer_ids: list[Id] | None = Field(default=None, max_length=10_000)


class TerritoryTransferOut(BaseModel):
    retailers_moved: int
    visits_moved: int


class BindingIn(Input):
    platform: Annotated[str, StringConstraints(pattern=r"^(qq|console)$")] = "qq"
    chat_user_id: ChatId


class BindingOut(Output):
    id: int
    platform: str
    chat_user_id: str
    retailer_id: int
    bound_by_staff_id: int | None
    bound_at: datetime


class OutboxOut(Output):
    id: int
    platform: str
    bot_id: str | None
    target_kind: str
    target_id: str
    text: str
    ticket_id: int | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class QueueOut(Output):
    platform: str
    bot_id: str | None
    lane: int
    waiting: int
    oldest: datetime | None
    dead: int
    sends: int  # the messages the waiting rows make once a group's acknowledgements are combined


class AccountHealthOut(BaseModel):
    """A bot account: connected to this process now, the registered groups it serves, its last send from here."""

    platform: str
    bot_id: str
    connected: bool
    groups: list[str]
    last_send_at: datetime | None


class WaitingGroupOut(BaseModel):
    """A group in service none of whose accounts is connected: its messages wait."""

    id: int
    platform: str
    group_id: str
    name: str | None


class RobotHealthOut(BaseModel):
    """A WeCom or DingTalk robot for staff alerts: its webhook without the key, this process's last success
    and failure (with the error), and its outbox rows waiting and dead."""

    name: str
    kind: str
    url: str
    rate_per_minute: int
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None
    waiting: int
    dead: int


class HealthOut(BaseModel):
    status: str
    database: bool
    bots: list[str]
    accounts: list[AccountHealthOut] = Field(default_factory=list)
    groups_without_account: list[WaitingGroupOut] = Field(default_factory=list)
    robots: list[RobotHealthOut] = Field(default_factory=list)


class GroupAccountIn(Input):
    bot_id: str = Field(min_length=1, max_length=32, pattern=r"^\S+$", description="机器人账号（QQ 号）")


class PledgeListOut(PledgeOut):
    ticket_id: int
    warn_at: datetime | None
    breached_at: datetime | None
    escalation_level: int
    paused_at: datetime | None


class VisitNeededIn(Input):
    nullable = frozenset({"note"})

    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class VisitIn(Input):
    """`visited_at` null or left out: now (it may not be later than now)."""

    nullable = frozenset({"notes", "visited_at", "outcome", "photo_url"})

    action: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None
    visited_at: Moment | None = None
    outcome: VisitOutcome | None = Field(None, description="resolved 已解决, partly 部分解决, unresolved 未解决")
    photo_url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500,
                                                pattern=r"^https?://\S+$")] | None = Field(
        None, description="an http(s) link to a photo taken on site")


class VisitOut(Output):
    id: int
    ticket_id: int
    staff_id: int
    visited_at: datetime
    action: str
    notes: str | None
    outcome: VisitOutcome | None
    photo_url: str | None


class CallbackIn(Input):
    stored_as = CallbackRecord

    reached: bool
    score: Annotated[int, Field(ge=1, le=5)] | None = None
    reply_in_time: bool | None = Field(None, description="the retailer confirms the reply came in time")
    visit_happened: bool | None = Field(None, description="the retailer confirms the visit really happened "
                                                          "(only when there was a visit)")
    supply_satisfaction: Satisfaction | None = Field(None, description="货源供应 (seed 003 §八)")
    manager_satisfaction: Satisfaction | None = Field(None, description="客户经理服务")
    handling_satisfaction: Satisfaction | None = Field(None, description="处理问题的时效与结果")
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None


class CallbackOut(Output):
    id: int
    ticket_id: int
    staff_id: int
    reached: bool
    score: int | None
    reply_in_time: bool | None
    visit_happened: bool | None
    supply_satisfaction: Satisfaction | None
    manager_satisfaction: Satisfaction | None
    handling_satisfaction: Satisfaction | None
    comment: str | None
    recorded_at: datetime


class ReassignIn(Input):
    staff_id: Id


class FieldError(BaseModel):
    type: str
    loc: list[str | int] = Field(description="出错的位置，如 [\"body\", \"roles\"]")
    msg: str


class ErrorOut(BaseModel):
    """Every refusal and failure: a Chinese `detail`; a 422 also lists each field's problem."""

    detail: str
    errors: list[FieldError] = Field(default_factory=list)
