"""The three pledges: lists by role, pause and resume, reassignment, visits and callbacks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Query, status

from api.deps import CurrentStaff, RuntimeDep, in_local_zone, require
from api.schemas import (
    CallbackIn,
    CallbackOut,
    ClockChangeIn,
    Page,
    PledgeListOut,
    ReassignIn,
    VisitIn,
    VisitNeededIn,
    VisitOut,
)
from bot.fields import Id, Moment, Offset
from bot.models import PledgeKind, PledgeState, StaffMember
from bot.services import access, fieldwork, pledges

router = APIRouter(tags=["pledges"])
Supervising = Annotated[StaffMember, Depends(require(*access.SUPERVISORS))]
Serving = Annotated[StaffMember, Depends(require(*access.REPLIERS))]
Visiting = Annotated[StaffMember, Depends(require(*access.VISITORS))]
Calling = Annotated[StaffMember, Depends(require(*access.CALLERS))]


@router.get("/pledges", response_model=Page[PledgeListOut])
def list_pledges(runtime: RuntimeDep, staff: CurrentStaff,
                 kind: PledgeKind | None = None, state: PledgeState | None = None,
                 owner_staff_id: Id | None = None, breached: bool | None = None,
                 due_before: Annotated[Moment | None, Query(description="due at or before")] = None,
                 due_after: Annotated[Moment | None, Query(description="due at or after")] = None,
                 offset: Annotated[Offset, Query()] = 0, limit: Annotated[int, Query(ge=1, le=200)] = 50):
    """Due soon (`due_before`), in a window (`due_after`), breached, by state, owner and kind. Each role
    lists the kinds it works on, on the tickets it may see (`bot.services.access`): agents replies and
    visits, callback staff callbacks, an account manager the visits to their own retailers and those
    they own; supervisors and admins everything."""
    if kind is not None and kind not in access.pledge_kinds(staff):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"权限不足：你的角色不能查看 {kind} 承诺")
    tz = runtime.settings.tz
    total, rows = runtime.unit_of_work(pledges.list_pledges, kinds=[kind] if kind else None, state=state,
                                       owner_staff_id=owner_staff_id, breached=breached,
                                       due_before=in_local_zone(due_before, tz),
                                       due_after=in_local_zone(due_after, tz), offset=offset, limit=limit,
                                       visible=access.pledges_visible(staff))
    return Page[PledgeListOut](total=total, items=[PledgeListOut.model_validate(row) for row in rows])


def _change_clock(runtime, pledge_id: Id, change, staff: StaffMember, body: ClockChangeIn | None) -> PledgeListOut:
    def apply(session):
        pledge = pledges.get(session, pledge_id)
        change(session, pledge, now=runtime.clock.now(), policies=runtime.policies, tz=runtime.settings.tz,
               reason=body.reason if body else None, staff_id=staff.id)
        return pledge

    return runtime.unit_of_work(apply)


@router.post("/pledges/{pledge_id}/pause", response_model=PledgeListOut)
def pause(pledge_id: Id, runtime: RuntimeDep, staff: Serving,
          body: Annotated[ClockChangeIn | None, Body()] = None):
    """Stop the clock while the ticket waits for the retailer; `reason` goes on the ticket's trail."""
    return _change_clock(runtime, pledge_id, pledges.pause, staff, body)


@router.post("/pledges/{pledge_id}/resume", response_model=PledgeListOut)
def resume(pledge_id: Id, runtime: RuntimeDep, staff: Serving,
           body: Annotated[ClockChangeIn | None, Body()] = None):
    """Restart the clock with the working time left; `reason` goes on the ticket's trail."""
    return _change_clock(runtime, pledge_id, pledges.resume, staff, body)


@router.post("/pledges/{pledge_id}/reassign", response_model=PledgeListOut)
def reassign(pledge_id: Id, body: ReassignIn, runtime: RuntimeDep, supervisor: Supervising):
    return runtime.unit_of_work(pledges.reassign, pledge_id, body.staff_id, now=runtime.clock.now(),
                                policies=runtime.policies, tz=runtime.settings.tz, by_staff_id=supervisor.id)


@router.post("/tickets/{ticket_id}/visit", response_model=PledgeListOut, status_code=status.HTTP_201_CREATED)
def order_visit(ticket_id: Id, runtime: RuntimeDep, staff: Serving, body: VisitNeededIn | None = None):
    """Mark that the ticket needs a visit: the task goes to the retailer's own account manager (to the
    supervisors when there is none; for an unbound sender an agent is first asked to identify the shop)."""
    ordered = runtime.unit_of_work(pledges.need_visit, ticket_id, note=body.note if body else None,
                                   now=runtime.clock.now(), policies=runtime.policies, tz=runtime.settings.tz,
                                   staff_id=staff.id)
    return ordered.pledge


@router.post("/tickets/{ticket_id}/visits", response_model=VisitOut, status_code=status.HTTP_201_CREATED)
def record_visit(ticket_id: Id, body: VisitIn, runtime: RuntimeDep, staff: Visiting):
    """The visit was made: what was done, the outcome and an optional photo link; it meets the visit pledge.
    Another manager's visit is not found, as on the console."""
    return runtime.unit_of_work(fieldwork.record_visit, ticket_id, staff, action=body.action, notes=body.notes,
                                visited_at=in_local_zone(body.visited_at, runtime.settings.tz),
                                outcome=body.outcome, photo_url=body.photo_url, now=runtime.clock.now(),
                                policies=runtime.policies, tz=runtime.settings.tz)


@router.post("/tickets/{ticket_id}/callbacks", response_model=CallbackOut, status_code=status.HTTP_201_CREATED)
def record_callback(ticket_id: Id, body: CallbackIn, runtime: RuntimeDep, staff: Calling):
    """One call: reached (with a 1-5 score, the confirmations and the satisfaction items) or not (nothing
    but a comment). A score of 2 or lower reopens the ticket."""
    items = pledges.Items(supply=body.supply_satisfaction, manager=body.manager_satisfaction,
                          handling=body.handling_satisfaction)
    return runtime.unit_of_work(pledges.record_callback, ticket_id, staff, reached=body.reached,
                                score=body.score, reply_in_time=body.reply_in_time,
                                visit_happened=body.visit_happened, comment=body.comment, items=items,
                                now=runtime.clock.now(), policies=runtime.policies, tz=runtime.settings.tz)
