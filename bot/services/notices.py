"""Who is told what about a ticket: tasks, warnings, escalations and apologies.

Every notice names the ticket, the store (or the sender's nickname when the
sender is unbound), the first words of the request and what to do next, and
goes through the outbox in its lane. A notice whose reason is a running
pledge carries that pledge, so the sender drops it if the pledge was kept
before it went out. Tasks with a shop's address and phone go privately to
their owner, or to the supervisors when the owner cannot be reached, never
to a QQ group. Callback work goes to the callback staff (or their own group),
never to the agents' group.

Each notice has a kind (`NoticeKind`: task, warning, escalation, ...) and is
meant for people of one role (`Audience`). The policy's `[alerts]` routes say
on which channels that kind reaches that role: QQ (privately, or the role's
QQ group) and/or WeCom and DingTalk group robots (`fan_out`). A robot gets one
message that @-mentions the people by mobile, without the shop's address and
phone (`texts.for_staff_group`). Each channel's row has its own dedupe key,
so every channel gets the notice exactly once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from bot import texts
from bot.models import (
    AuthorKind,
    CallbackRecord,
    ChatGroup,
    Lane,
    Pledge,
    PledgeKind,
    Retailer,
    Role,
    StaffMember,
    Ticket,
    due_of,
    id_of,
    started_of,
)
from bot.policy import QQ, Policies
from bot.services import outbox, tickets

STAFF_PLATFORM = "qq"  # staff are reached on QQ, whichever chat the ticket came from
ROBOT = outbox.ROBOT
OWNER_ROLE = {PledgeKind.REPLY: Role.AGENT, PledgeKind.VISIT: Role.MANAGER, PledgeKind.CALLBACK: Role.CALLBACK}
MENTIONS_ROOM = 512  # outbox_message.mentions


@dataclass(frozen=True)
class Audience:
    """The people a notice is for, all of one role; with the role's QQ group when it has one."""

    role: str
    people: list[StaffMember]
    qq_group_id: str | None = None


def reaches(policies: Policies, notice: str, audience: Audience) -> bool:
    """Whether any channel the notice goes on reaches somebody: a robot always reaches its group."""
    for channel in policies.alerts.route(notice, audience.role):
        if channel != QQ and audience.people:
            return True
        if channel == QQ and (audience.qq_group_id or any(m.chat_user_id for m in audience.people)):
            return True
    return False


def fan_out(policies: Policies, audience: Audience, notice: str, key: str, text: str, *, by_person: bool = False,
            **fields: Any) -> list[dict[str, Any]]:
    """Outbox rows for one notice on each channel its route names for the audience's role. A private QQ
    row's key ends with the chat id, or with the staff id `by_person` (the digests' keys)."""
    rows = []
    for channel in policies.alerts.route(notice, audience.role):
        if channel == QQ:
            if audience.qq_group_id:
                targets = [("group", audience.qq_group_id, f"{key}:group:{audience.qq_group_id}")]
            else:
                targets = [("private", m.chat_user_id,
                            f"{key}:{m.id}" if by_person else f"{key}:private:{m.chat_user_id}")
                           for m in audience.people if m.chat_user_id]
            rows += [{"platform": STAFF_PLATFORM, "target_kind": kind, "target_id": chat_id, "text": text,
                      "dedupe_key": dedupe_key, **fields} for kind, chat_id, dedupe_key in targets]
            continue
        mobiles: list[str] = []
        for mobile in dict.fromkeys(m.mobile for m in audience.people if m.mobile):
            if len(",".join([*mobiles, mobile])) <= MENTIONS_ROOM:
                mobiles.append(mobile)
        rows.append({"platform": policies.alerts.channels[channel].kind, "bot_id": channel, "target_kind": ROBOT,
                     "target_id": channel, "text": texts.for_staff_group(text), "mentions": ",".join(mobiles) or None,
                     "dedupe_key": f"{key}:{ROBOT}:{channel}", **fields})
    return rows
_SPACES = re.compile(r"\s+")
REQUEST_WORDS = 30


@dataclass(frozen=True)
class Context:
    who: str
    request: str


def context(ticket: Ticket, retailer: Retailer | None) -> Context:
    """The store, or the sender's nickname when unbound; the first words of the request."""
    nickname = f"{ticket.sender_name}，" if ticket.sender_name else ""
    who = retailer.store_name if retailer is not None else f"{nickname}QQ {ticket.sender_user_id}，未绑定"
    words = _SPACES.sub(" ", ticket.text).strip()
    request = words if len(words) <= REQUEST_WORDS else words[:REQUEST_WORDS] + "…"
    return Context(who=who, request=request or "（无文字）")


class Batch:
    """The notices and events of one unit of work, written together at the end (the sweep's many)."""

    def __init__(self, session: Session, now: datetime, policies: Policies, tz: ZoneInfo | None = None) -> None:
        self.session, self.now, self.policies, self.tz = session, now, policies, tz
        self.rows: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self._staff: list[StaffMember] | None = None
        self._retailers: dict[int, Retailer | None] = {}
        self._groups: dict[int, ChatGroup | None] = {}

    # -- lookups, once per batch --
    def staff(self, *roles: str) -> list[StaffMember]:
        if self._staff is None:
            self._staff = list(self.session.exec(select(StaffMember).where(StaffMember.active)))
        return [m for m in self._staff if m.has_role(*roles)]

    def staff_member(self, staff_id: int) -> StaffMember | None:
        return next((m for m in self.staff(*Role) if m.id == staff_id), None)

    def retailer(self, ticket: Ticket) -> Retailer | None:
        if ticket.retailer_id is None:
            return None
        if ticket.retailer_id not in self._retailers:
            self._retailers[ticket.retailer_id] = self.session.get(Retailer, ticket.retailer_id)
        return self._retailers[ticket.retailer_id]

    def group(self, chat_group_id: int) -> ChatGroup | None:
        if chat_group_id not in self._groups:
            self._groups[chat_group_id] = self.session.get(ChatGroup, chat_group_id)
        return self._groups[chat_group_id]

    def context(self, ticket: Ticket) -> Context:
        return context(ticket, self.retailer(ticket))

    # -- addressing --
    def privately(self, notice: str, role: str) -> Audience | None:
        """Everyone with the role; nobody with it reachable: the supervisors, then the admins."""
        for wanted in (role, Role.SUPERVISOR, Role.ADMIN):
            audience = Audience(wanted, self.staff(wanted))
            if reaches(self.policies, notice, audience):
                return audience
        return None

    def pool(self, pledge_kind: str, notice: str) -> Audience | None:
        if pledge_kind == PledgeKind.REPLY:
            if self.policies.agents_group_id:
                return Audience(Role.AGENT, self.staff(Role.AGENT), self.policies.agents_group_id)
            return self.privately(notice, Role.AGENT)
        if pledge_kind == PledgeKind.CALLBACK:
            if self.policies.callback_group_id:
                return Audience(Role.CALLBACK, self.staff(Role.CALLBACK), self.policies.callback_group_id)
            return self.privately(notice, Role.CALLBACK)
        # a visit's details never go to a QQ group or other managers
        return self.privately(notice, Role.SUPERVISOR)

    def recipients(self, pledge: Pledge, target: str, notice: str) -> Audience | None:
        """Who a ladder target of this pledge is, for a notice of this kind."""
        if target == "owner" and pledge.owner_staff_id:
            owner = self.staff_member(pledge.owner_staff_id)
            if owner is not None:
                audience = Audience(OWNER_ROLE[PledgeKind(pledge.kind)], [owner])
                if reaches(self.policies, notice, audience):
                    return audience
            if pledge.kind == PledgeKind.VISIT:
                return self.privately(notice, Role.SUPERVISOR)
        if target in ("owner", "agents_group"):
            return self.pool(pledge.kind, notice)
        return self.privately(notice, {"supervisors": Role.SUPERVISOR, "admins": Role.ADMIN}[target])

    def to_staff(self, ticket: Ticket, key: str, audience: Audience | None, notice: str, text: str, *,
                 lane: Lane, pledge: Pledge | None = None, kind: str | None = None) -> None:
        if audience is None:
            return
        self.rows += fan_out(self.policies, audience, notice, key, text, ticket_id=ticket.id, lane=lane, kind=kind,
                             pledge_id=pledge.id if pledge is not None else None)

    def about_pledge(self, pledge: Pledge, ticket: Ticket, target: str, what: str, notice: str, text: str, *,
                     lane: Lane, kind: str | None = None) -> None:
        """A notice that matters only while the pledge runs (dropped at send time once it is kept)."""
        key = f"pledge:{pledge.id}:{started_of(pledge).timestamp():.0f}:{what}"
        self.to_staff(ticket, key, self.recipients(pledge, target, notice), notice, text, lane=lane, pledge=pledge,
                      kind=kind)

    def apologise(self, pledge: Pledge, ticket: Ticket) -> None:
        """Once per late reply, in the retailer's own chat, quoting their question."""
        group = self.group(ticket.chat_group_id) if ticket.chat_group_id else None
        target = ("group", group.group_id) if group else ("private", ticket.sender_user_id)
        self.rows.append({
            "platform": group.platform if group else ticket.platform, "bot_id": group.bot_id if group else None,
            "target_kind": target[0], "target_id": target[1],
            "reply_to": tickets.first_retailer_message(self.session, id_of(ticket)) if group else None,
            "text": texts.reply_apology(id_of(ticket)), "ticket_id": ticket.id, "lane": Lane.ESCALATION,
            "pledge_id": pledge.id, "dedupe_key": f"pledge:{pledge.id}:{started_of(pledge).timestamp():.0f}:apology"})

    def event(self, ticket_id: int, action: str, **detail: Any) -> None:
        self.events.append({"ticket_id": ticket_id, "at": self.now, "actor_kind": AuthorKind.SYSTEM,
                            "actor_id": None, "action": action, "detail": detail})

    def flush(self) -> None:
        outbox.enqueue_many(self.session, self.rows, now=self.now)
        tickets.events(self.session, self.events)
        self.rows, self.events = [], []


# -- one-off notices, each written at once -----------------------------------------------------

def reply_task(session: Session, pledge: Pledge, ticket: Ticket, *, why: str, now: datetime, policies: Policies,
               tz: ZoneInfo) -> None:
    batch = Batch(session, now, policies, tz)
    ctx = batch.context(ticket)
    text = texts.reply_task(id_of(ticket), ctx.who, ctx.request, why, due_of(pledge), now, tz)
    batch.about_pledge(pledge, ticket, "owner", "task", "task", text, lane=Lane.STAFF)
    batch.flush()


def visit_task(session: Session, pledge: Pledge, ticket: Ticket, retailer: Retailer | None, note: str | None, *,
               now: datetime, policies: Policies, tz: ZoneInfo) -> None:
    batch = Batch(session, now, policies, tz)
    ctx = batch.context(ticket)
    text = texts.visit_task(id_of(ticket), ctx.who, ctx.request, retailer, note, due_of(pledge), now, tz)
    batch.about_pledge(pledge, ticket, "owner", f"task-{pledge.owner_staff_id}", "visit_task", text, lane=Lane.STAFF)
    batch.flush()


def visit_unassigned(session: Session, pledge: Pledge, ticket: Ticket, retailer: Retailer, why: str, *,
                     now: datetime, policies: Policies, tz: ZoneInfo) -> None:
    batch = Batch(session, now, policies, tz)
    ctx = batch.context(ticket)
    text = texts.visit_unassigned(id_of(ticket), ctx.who, ctx.request, retailer, why, due_of(pledge), now, tz)
    batch.about_pledge(pledge, ticket, "supervisors", "unassigned", "visit_task", text, lane=Lane.STAFF)
    batch.flush()


def identify_shop(session: Session, pledge: Pledge, ticket: Ticket, *, now: datetime, policies: Policies) -> None:
    """To the agent who has the ticket (or the agents): find out which shop the sender is."""
    batch = Batch(session, now, policies)
    ctx = batch.context(ticket)
    reply = session.exec(select(Pledge).where(Pledge.ticket_id == ticket.id, Pledge.kind == PledgeKind.REPLY)).first()
    recipients = (batch.recipients(reply, "owner", "task") if reply is not None
                  else batch.pool(PledgeKind.REPLY, "task"))
    key = f"pledge:{pledge.id}:{started_of(pledge).timestamp():.0f}:identify"
    batch.to_staff(ticket, key, recipients, "task", texts.identify_shop(id_of(ticket), ctx.who, ctx.request),
                   lane=Lane.STAFF, pledge=pledge)
    batch.flush()


def callback_task(session: Session, pledge: Pledge, ticket: Ticket, retailer: Retailer | None, *, visited: bool,
                  now: datetime, policies: Policies, tz: ZoneInfo) -> None:
    batch = Batch(session, now, policies, tz)
    ctx = batch.context(ticket)
    text = texts.callback_task(id_of(ticket), ctx.who, ctx.request, visited, retailer.phone if retailer else None,
                               due_of(pledge), now, tz)
    batch.about_pledge(pledge, ticket, "owner", f"task-{pledge.owner_staff_id}", "callback_task", text,
                       lane=Lane.STAFF)
    batch.flush()


def low_satisfaction(session: Session, ticket: Ticket, record: CallbackRecord, *, now: datetime,
                     policies: Policies) -> None:
    batch = Batch(session, now, policies)
    ctx = batch.context(ticket)
    text = texts.low_satisfaction(id_of(ticket), ctx.who, ctx.request, record.score or 0, record.comment)
    batch.to_staff(ticket, f"callback:{record.id}:low-score", batch.privately("low_score", Role.SUPERVISOR),
                   "low_score", text, lane=Lane.STAFF)
    batch.flush()


def to_staff_member(session: Session, staff: StaffMember, text: str, *, now: datetime, via_group: ChatGroup | None,
                    ticket_id: int | None = None) -> None:
    """A confirmation or refusal of a staff command given in a group: privately, never in the group."""
    if not staff.chat_user_id:
        return
    outbox.enqueue(session, now=now, platform=via_group.platform if via_group else STAFF_PLATFORM,
                   bot_id=via_group.bot_id if via_group else None, target_kind="private",
                   target_id=staff.chat_user_id, text=text, lane=Lane.REPLY, ticket_id=ticket_id,
                   via_group_id=via_group.group_id if via_group else None)
