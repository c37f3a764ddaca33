"""Who may see which retailer's data and which tickets: the one rule, written as query conditions.

Each role a staff member holds grants a reach (the tickets and retailers it covers) and a view
(how much of a retailer it shows):

    role               tickets it reaches                          retailers      view
    admin, supervisor  every ticket                                every one      full
    manager            their retailers' tickets, and the tickets   their own      full
                       whose visit they own
    callback           tickets with a callback running or done     every one      callback
    agent              every ticket                                every one      service
    marketing          none                                        none           -

The service view is what serving a ticket needs: no phone, owner or address, and the numbers in the
ticket's texts masked by the group guard (the agent still reads every word of the request). The
callback view adds whom to call. Several roles add up: a member reaches what any of their roles
reaches, and sees each row in the widest view one of those roles gives it. Lists filter in the
database, so paging totals count only what the caller may see; a single row the caller may not see
is answered as not found, so its id cannot be probed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, or_, true
from sqlmodel import Session, col, select

from bot.models import Pledge, PledgeKind, Retailer, Role, StaffMember, Ticket, id_of
from bot.services import tickets
from bot.services.errors import Forbidden, NotFound
from bot.services.guard import mask_personal_data
from bot.services.pledges import KEPT, RUNNING
from bot.services.reports.base import Scope

# The roles that read tickets and retailers at all; anyone else is refused (403) before any query.
READERS = (Role.ADMIN, Role.SUPERVISOR, Role.MANAGER, Role.CALLBACK, Role.AGENT)
# Who may do what to a ticket: the one list each, used by the API, the console and the chat.
REPLIERS = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)  # reply, claim, note, close, reopen, merge, order a visit,
#                                                       pause and resume clocks, teach the knowledge base
SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)  # assign and reassign pledges
VISITORS = (Role.MANAGER, Role.SUPERVISOR, Role.ADMIN)  # record visits
CALLERS = (Role.CALLBACK, Role.SUPERVISOR, Role.ADMIN)  # record callbacks
EXPORTERS = (Role.ADMIN, Role.SUPERVISOR, Role.MANAGER)  # export the directory (a manager their own retailers)
ADMINS = (Role.ADMIN,)  # load the directory and its aliases, bind accounts, manage staff and groups
# Supply notices and launches: every staff member reads them (retailers ask about them); these publish.
PUBLISHERS = (Role.ADMIN, Role.MARKETING)  # write, schedule, publish, correct and withdraw; approve publicity
EVERYONE = tuple(Role)
# Reports: supervisors and admins see everyone's figures; service staff see their own.
REPORT_READERS = (Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.MANAGER, Role.CALLBACK)


class View(IntEnum):
    """How much of a retailer a caller sees; a larger view includes the smaller."""

    SERVICE = 1  # no phone, owner or address; numbers in ticket texts masked
    CALLBACK = 2  # also the owner and phone, to call back
    FULL = 3


@dataclass(frozen=True)
class _Grant:
    tickets: ColumnElement[bool] | None  # None: every ticket
    retailers: ColumnElement[bool] | None  # None: every retailer
    view: View
    kinds: tuple[str, ...]  # the pledges it lists, on the tickets it reaches


def _grants(staff: StaffMember) -> list[_Grant]:
    """What each of the member's roles grants, widest view first."""
    if staff.has_role(Role.ADMIN, Role.SUPERVISOR):
        return [_Grant(None, None, View.FULL, tuple(PledgeKind))]
    grants = []
    if staff.has_role(Role.MANAGER):
        own = select(Retailer.id).where(Retailer.manager_id == staff.id)
        visiting = select(Pledge.ticket_id).where(Pledge.kind == PledgeKind.VISIT, Pledge.owner_staff_id == staff.id)
        grants.append(_Grant(or_(col(Ticket.retailer_id).in_(own), col(Ticket.id).in_(visiting)),
                             col(Retailer.manager_id) == staff.id, View.FULL, (PledgeKind.VISIT,)))
    if staff.has_role(Role.CALLBACK):
        calls = select(Pledge.ticket_id).where(Pledge.kind == PledgeKind.CALLBACK,
                                               col(Pledge.state).in_(RUNNING + KEPT))
        grants.append(_Grant(col(Ticket.id).in_(calls), None, View.CALLBACK, (PledgeKind.CALLBACK,)))
    if staff.has_role(Role.AGENT):
        grants.append(_Grant(None, None, View.SERVICE, (PledgeKind.REPLY, PledgeKind.VISIT)))
    return grants


def _any(conditions: Iterable[ColumnElement[bool] | None]) -> ColumnElement[bool]:
    """Any of the conditions (None: every row); no condition at all: no row."""
    some = list(conditions)
    if any(condition is None for condition in some):
        return true()
    return or_(false(), *(condition for condition in some if condition is not None))


def tickets_visible(staff: StaffMember) -> ColumnElement[bool]:
    """The condition on `Ticket` that keeps the tickets the member may see."""
    return _any(grant.tickets for grant in _grants(staff))


def retailers_visible(staff: StaffMember, at_least: View = View.SERVICE) -> ColumnElement[bool]:
    """The condition on `Retailer` that keeps the retailers the member sees in at least this view."""
    return _any(grant.retailers for grant in _grants(staff) if grant.view >= at_least)


def restricted_to_own(staff: StaffMember) -> bool:
    """Whether the member's reach over retailers is narrower than everyone (a manager's territory)."""
    return not any(grant.retailers is None for grant in _grants(staff))


def pledge_kinds(staff: StaffMember) -> set[str]:
    """The kinds of pledge the member works on, and so may list."""
    return {kind for grant in _grants(staff) for kind in grant.kinds}


def pledges_visible(staff: StaffMember) -> ColumnElement[bool]:
    """The condition on `Pledge`: a kind a role works on, on a ticket that role reaches."""
    return or_(false(), *(
        and_(col(Pledge.kind).in_(grant.kinds),
             true() if grant.tickets is None else col(Pledge.ticket_id).in_(select(Ticket.id).where(grant.tickets)))
        for grant in _grants(staff)))


def _view_column(grants: list[_Grant], reach: str) -> ColumnElement[int]:
    """The widest view any grant gives the row (0: none), for a select."""
    whens = [(true() if getattr(grant, reach) is None else getattr(grant, reach), int(grant.view))
             for grant in sorted(grants, key=lambda grant: grant.view, reverse=True)]
    return case(*whens, else_=0)


def ticket_views(session: Session, staff: StaffMember, ticket_ids: Collection[int]) -> dict[int, View]:
    """The view each of these tickets is shown in; tickets the member may not see are left out."""
    grants = _grants(staff)
    if not ticket_ids or not grants:
        return {}
    rows = session.exec(select(Ticket.id, _view_column(grants, "tickets")).where(col(Ticket.id).in_(ticket_ids)))
    return {row_id: View(view) for row_id, view in rows if view and row_id is not None}


def retailer_views(session: Session, staff: StaffMember, retailer_ids: Collection[int]) -> dict[int, View]:
    """The view each of these retailers is shown in; retailers the member may not see are left out."""
    grants = _grants(staff)
    if not retailer_ids or not grants:
        return {}
    rows = session.exec(select(Retailer.id, _view_column(grants, "retailers"))
                        .where(col(Retailer.id).in_(retailer_ids)))
    return {row_id: View(view) for row_id, view in rows if view and row_id is not None}


def readable_retailer(session: Session, staff: StaffMember, retailer_id: int,
                      at_least: View = View.SERVICE) -> tuple[Retailer, View]:
    """One retailer and its view; not found when the member may not see it in at least that view."""
    retailer = session.get(Retailer, retailer_id)
    view = retailer_views(session, staff, [retailer_id]).get(retailer_id)
    if retailer is None or view is None or view < at_least:
        raise NotFound(f"零售客户 {retailer_id} 不存在")
    return retailer, view


# -- tickets as the caller may read them ------------------------------------------------------

def shown_text(text: str | None, view: View, public_numbers: Collection[str]) -> str | None:
    """A ticket's text: as written for a view that may see the retailer's phone, else masked."""
    if text is None or view > View.SERVICE:
        return text
    return mask_personal_data(text, public_numbers)


def _ticket_fields(ticket: Ticket, view: View, public_numbers: Collection[str]) -> dict[str, Any]:
    # copies: the session's rows are never changed, so nothing masked can be written back
    return {**ticket.model_dump(), "text": shown_text(ticket.text, view, public_numbers),
            "latest_text": shown_text(ticket.latest_text, view, public_numbers)}


def ticket_as_seen(session: Session, staff: StaffMember, ticket: Ticket, *,
                   public_numbers: Collection[str]) -> dict[str, Any]:
    """The ticket a write (a reply, a close) answers with, in the caller's view."""
    return _ticket_fields(ticket, ticket_views(session, staff, [id_of(ticket)])[id_of(ticket)], public_numbers)


def list_tickets(session: Session, staff: StaffMember, flt: tickets.TicketFilter, *, offset: int, limit: int,
                 public_numbers: Collection[str]) -> tuple[int, list[dict[str, Any]]]:
    """The tickets the member may see, filtered and paged in the database, each in its view."""
    total, rows = tickets.list_tickets(session, flt, offset=offset, limit=limit, visible=tickets_visible(staff))
    views = ticket_views(session, staff, [id_of(row) for row in rows])
    return total, [_ticket_fields(row, views[id_of(row)], public_numbers) for row in rows]


def ticket_detail(session: Session, staff: StaffMember, ticket_id: int, *,
                  public_numbers: Collection[str]) -> tuple[dict[str, Any], Retailer | None, View]:
    """One ticket with its messages, events and pledges, and its retailer, as the member may see
    them; a ticket they may not see is not found, like one that does not exist."""
    view = ticket_views(session, staff, [ticket_id]).get(ticket_id)
    if view is None:
        raise NotFound(f"工单 #{ticket_id} 不存在")
    ticket, messages, events, pledges_ = tickets.ticket_detail(session, ticket_id)
    detail = {
        **_ticket_fields(ticket, view, public_numbers),
        "messages": [{**message.model_dump(), "text": shown_text(message.text, view, public_numbers)}
                     for message in messages],
        "events": [{**event.model_dump(), "detail": {key: shown_text(value, view, public_numbers)
                                                     if isinstance(value, str) else value
                                                     for key, value in event.detail.items()}}
                   for event in events],
        "pledges": pledges_,
    }
    retailer = session.get(Retailer, ticket.retailer_id) if ticket.retailer_id else None
    return detail, retailer, view


def report_scope(staff: StaffMember, asked: Scope) -> Scope:
    """The scope a member's report covers: supervisors and admins what they asked for; agents, account
    managers and callback staff their own figures only (asking for someone else's is refused)."""
    if staff.has_role(*SUPERVISORS):
        return asked
    if asked.staff_id not in (None, staff.id):
        raise Forbidden("只能查看本人的统计")
    return Scope(district=asked.district, chat_group_id=asked.chat_group_id, staff_id=staff.id)
