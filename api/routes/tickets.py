from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, status
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import ReplierDep, RuntimeDep, in_local_zone, require
from api.schemas import (
    RETAILER_VIEWS,
    AssignIn,
    CategoryIn,
    ClaimIn,
    CloseIn,
    ErrorOut,
    MergeIn,
    Page,
    PledgeListOut,
    ReplyIn,
    TicketDetailOut,
    TicketOut,
    UnticketedIn,
    UnticketedOut,
)
from bot.fields import Id, Moment, Offset
from bot.models import Category, StaffMember, Ticket, TicketStatus
from bot.services import access, intake, pledges, tickets
from bot.services.guard import mask_personal_data

router = APIRouter(prefix="/tickets", tags=["tickets"])
Supervising = Annotated[StaffMember, Depends(require(*access.SUPERVISORS))]
Reading = Annotated[StaffMember, Depends(require(*access.READERS))]  # marketing reads no tickets


@router.get("", response_model=Page[TicketOut])
def list_tickets(
    runtime: RuntimeDep, staff: Reading,
    status_: Annotated[TicketStatus | None, Query(alias="status")] = None,
    category: Category | None = None,
    group_id: Annotated[Id | None, Query(description="chat group record id")] = None,
    retailer_id: Id | None = None,
    created_from: Moment | None = None,
    created_to: Moment | None = None,
    q: Annotated[str | None, Query(max_length=100, description="words in the request")] = None,
    offset: Annotated[Offset, Query()] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    aware = partial(in_local_zone, tz=runtime.settings.tz)
    flt = tickets.TicketFilter(status=status_, category=category, chat_group_id=group_id,
                               retailer_id=retailer_id, created_from=aware(created_from),
                               created_to=aware(created_to), q=q)
    total, rows = runtime.unit_of_work(access.list_tickets, staff, flt, offset=offset, limit=limit,
                                       public_numbers=runtime.settings.public_numbers)
    return Page[TicketOut](total=total, items=[TicketOut.model_validate(row) for row in rows])


@router.get("/corrections", response_class=Response,
            responses={200: {"content": {"application/yaml": {}}, "description": "labelled lines, as YAML"}})
def corrections(runtime: RuntimeDep, supervisor: Supervising,
                since: Annotated[Moment, Query(description="corrections made from then on")]):
    """What staff corrected in the console or through the API (改类别, 不是诉求) since `since`, as lines labelled
    the way knowledge/intake/ is (`complaint_corrected: [...]`, `chatter_corrected: [...]`), personal data masked:
    reviewed and added there, they teach the intake model the groups' own words (`bot.services.classify_fit`)."""
    return Response(runtime.unit_of_work(tickets.corrections_file, in_local_zone(since, runtime.settings.tz),
                                         runtime.settings.public_numbers), media_type="application/yaml")


@router.get("/unticketed", response_model=list[UnticketedOut])
def unticketed(runtime: RuntimeDep, staff: Reading, group_id: Annotated[Id | None, Query(
        description="one group's (its id in /api/v1/groups)")] = None):
    """This week's group lines the bot opened no ticket for, newest first (at most 200): a request it took for
    chatter is made a ticket with POST /api/v1/tickets/unticketed/{id}/ticket."""
    since = runtime.clock.now() - tickets.UNTICKETED_KEPT_FOR
    lines = runtime.unit_of_work(tickets.unticketed_lines, since=since, chat_group_id=group_id)
    return [UnticketedOut.model_validate({**line.model_dump(), "text": mask_personal_data(
        line.text, runtime.settings.public_numbers)}) for line in lines]


@router.post("/unticketed/{line_id}/ticket", response_model=TicketOut, status_code=status.HTTP_201_CREATED,
             responses={404: {"model": ErrorOut, "description": "no such line (or kept no longer)"}})
def ticket_unticketed(line_id: Id, runtime: RuntimeDep, staff: ReplierDep,
                      body: Annotated[UnticketedIn | None, Body()] = None):
    """A line the bot left alone asks something (建单): a ticket of it, its reply clock from now, the visit its
    category's rule orders, and the acknowledgement in the group quoting the retailer. 422 if it was made a ticket
    of already."""
    return _as_seen(runtime, staff, runtime.unit_of_work(
        _ticketed, line_id, body.category if body else None, staff, now=runtime.clock.now(), settings=runtime.settings,
        policies=runtime.policies))


def _ticketed(session: Session, line_id: int, category: str | None, staff: StaffMember, **rules) -> Ticket:
    opened = intake.ticket_from_unticketed(session, line_id, category, staff, **rules)
    assert opened.ticket_id is not None, "建单 makes a ticket"
    return tickets.get(session, opened.ticket_id)


@router.get("/{ticket_id}", response_model=TicketDetailOut,
            responses={404: {"model": ErrorOut, "description": "no such ticket, or not one the caller may see"}})
def get_ticket(ticket_id: Id, runtime: RuntimeDep, staff: Reading):
    detail, retailer, view = runtime.unit_of_work(access.ticket_detail, staff, ticket_id,
                                                  public_numbers=runtime.settings.public_numbers)
    shown = RETAILER_VIEWS[view].model_validate(retailer) if retailer else None
    return TicketDetailOut.model_validate({**detail, "retailer": shown})


def _as_seen(runtime, staff: StaffMember, ticket) -> TicketOut:
    return TicketOut.model_validate(runtime.unit_of_work(access.ticket_as_seen, staff, ticket,
                                                         public_numbers=runtime.settings.public_numbers))


@router.post("/{ticket_id}/replies", response_model=TicketOut, status_code=status.HTTP_201_CREATED)
def reply(ticket_id: Id, body: ReplyIn, runtime: RuntimeDep, staff: ReplierDep):
    """Record the reply (meeting the reply pledge) and post it to the retailer, quoting their question.
    A ticket another agent has taken answers 409 unless `confirm` is true."""
    return _as_seen(runtime, staff, runtime.unit_of_work(
        intake.reply_via_api, ticket_id, staff, body.text, confirm=body.confirm, now=runtime.clock.now(),
        policies=runtime.policies, tz=runtime.settings.tz))


@router.post("/{ticket_id}/claim", response_model=PledgeListOut)
def claim(ticket_id: Id, runtime: RuntimeDep, staff: ReplierDep, body: Annotated[ClaimIn | None, Body()] = None):
    """Take the ticket: its reply pledge becomes yours. Taking another agent's needs `confirm`."""

    return runtime.unit_of_work(pledges.claim_ticket, ticket_id, staff, now=runtime.clock.now(),
                                confirm=bool(body and body.confirm))


@router.post("/{ticket_id}/assign", response_model=PledgeListOut)
def assign(ticket_id: Id, body: AssignIn, runtime: RuntimeDep, supervisor: Supervising):
    """A supervisor gives the ticket's reply (or visit or callback) pledge to someone, who is told."""

    return runtime.unit_of_work(pledges.assign, ticket_id, body.kind, body.staff_id, now=runtime.clock.now(),
                                policies=runtime.policies, tz=runtime.settings.tz, by_staff_id=supervisor.id)


@router.post("/{ticket_id}/close", response_model=TicketOut)
def close(ticket_id: Id, runtime: RuntimeDep, staff: ReplierDep,
          body: Annotated[CloseIn | None, Body()] = None):
    return _as_seen(runtime, staff, runtime.unit_of_work(intake.close_ticket, ticket_id, staff,
                                                         body.note if body else None, now=runtime.clock.now(),
                                                         policies=runtime.policies, tz=runtime.settings.tz))


@router.post("/{ticket_id}/category", response_model=TicketOut)
def recategorise(ticket_id: Id, body: CategoryIn, runtime: RuntimeDep, staff: ReplierDep):
    """The bot read the wrong category: the ticket and its pledge rounds take the right one (the reports' topics),
    and the new category's rule decides the visit (a complaint orders one; a visit only the old category's rule
    ordered, not yet made, is cancelled)."""
    return _as_seen(runtime, staff, runtime.unit_of_work(
        intake.recategorise_ticket, ticket_id, body.category.value, staff, now=runtime.clock.now(),
        policies=runtime.policies, tz=runtime.settings.tz))


@router.post("/{ticket_id}/not-a-request", response_model=TicketOut)
def not_a_request(ticket_id: Id, runtime: RuntimeDep, staff: ReplierDep,
                  body: Annotated[CloseIn | None, Body()] = None):
    """The ticket asks nothing (chatter the bot took for a request): closed, its running pledges cancelled, and
    not counted among the workload's requests. A breach it had stays until a supervisor excuses it."""
    return _as_seen(runtime, staff, runtime.unit_of_work(
        intake.mark_not_a_request, ticket_id, staff, body.note if body else None, now=runtime.clock.now(),
        policies=runtime.policies, tz=runtime.settings.tz))


@router.post("/{ticket_id}/merge", response_model=TicketOut)
def merge(ticket_id: Id, body: MergeIn, runtime: RuntimeDep, staff: ReplierDep):
    """This ticket is a duplicate: it goes into `target_id`, another open ticket of the same sender. Its
    messages move to the target, it is closed naming the target and its running pledges are cancelled.
    Answers with the target."""
    merged = runtime.unit_of_work(intake.merge_tickets, ticket_id, body.target_id, staff, now=runtime.clock.now(),
                                  policies=runtime.policies, tz=runtime.settings.tz)
    return _as_seen(runtime, staff, merged.target)


@router.post("/{ticket_id}/reopen", response_model=TicketOut)
def reopen(ticket_id: Id, runtime: RuntimeDep, staff: ReplierDep,
           body: Annotated[CloseIn | None, Body()] = None):
    """The request is not solved: a fresh reply clock for the agent who had it; the callback waits
    for the new reply."""
    return _as_seen(runtime, staff, runtime.unit_of_work(
        intake.reopen_ticket, ticket_id, staff, body.note if body else None, now=runtime.clock.now(),
        policies=runtime.policies, tz=runtime.settings.tz))
