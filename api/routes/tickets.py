from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from api.deps import CurrentStaff, ReplierDep, RuntimeDep, in_local_zone
from api.schemas import CloseIn, Page, ReplyIn, TicketDetailOut, TicketOut
from bot.fields import Id, Moment, Offset
from bot.models import Category, TicketStatus
from bot.services import tickets

router = APIRouter(prefix="/tickets", tags=["tickets"])


@router.get("", response_model=Page[TicketOut])
def list_tickets(
    runtime: RuntimeDep, _: CurrentStaff,
    status_: Annotated[TicketStatus | None, Query(alias="status")] = None,
    category: Category | None = None,
    group_id: Annotated[Id | None, Query(description="chat group record id")] = None,
    retailer_id: Id | None = None,
    created_from: Moment | None = None,
    created_to: Moment | None = None,
    offset: Annotated[Offset, Query()] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    aware = partial(in_local_zone, tz=runtime.settings.tz)
    flt = tickets.TicketFilter(status=status_, category=category, chat_group_id=group_id,
                               retailer_id=retailer_id, created_from=aware(created_from),
                               created_to=aware(created_to))
    total, rows = runtime.unit_of_work(tickets.list_tickets, flt, offset=offset, limit=limit)
    return Page[TicketOut](total=total, items=[TicketOut.model_validate(row) for row in rows])


@router.get("/{ticket_id}", response_model=TicketDetailOut)
def get_ticket(ticket_id: Id, runtime: RuntimeDep, _: CurrentStaff):
    ticket, messages, events, pledges = runtime.unit_of_work(tickets.ticket_detail, ticket_id)
    return TicketDetailOut.model_validate(
        {**ticket.model_dump(), "messages": messages, "events": events, "pledges": pledges}
    )


@router.post("/{ticket_id}/replies", response_model=TicketOut, status_code=status.HTTP_201_CREATED)
def reply(ticket_id: Id, body: ReplyIn, runtime: RuntimeDep, staff: ReplierDep):
    """Record the reply (meeting the reply pledge) and post it in the group, quoting the retailer."""
    return runtime.unit_of_work(tickets.reply_via_api, ticket_id, staff, body.text,
                                now=runtime.clock.now(), policies=runtime.policies, tz=runtime.settings.tz)


@router.post("/{ticket_id}/close", response_model=TicketOut)
def close(ticket_id: Id, runtime: RuntimeDep, staff: ReplierDep,
          body: Annotated[CloseIn | None, Body()] = None):
    return runtime.unit_of_work(tickets.close_ticket, ticket_id, staff, body.note if body else None,
                                now=runtime.clock.now())
