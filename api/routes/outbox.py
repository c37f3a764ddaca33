from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import RuntimeDep, require
from api.schemas import OutboxOut, QueueOut
from bot.fields import Id, Offset
from bot.models import OutboxStatus, Role, StaffMember, id_of
from bot.services import outbox

router = APIRouter(prefix="/outbox", tags=["outbox"])
Watching = Annotated[StaffMember, Depends(require(Role.ADMIN, Role.SUPERVISOR))]


@router.get("", response_model=list[OutboxOut])
def list_outbox(runtime: RuntimeDep, staff: Watching,
                status_: Annotated[OutboxStatus | None, Query(alias="status")] = None,
                offset: Annotated[Offset, Query()] = 0,
                limit: Annotated[int, Query(ge=1, le=200)] = 50):
    """Proactive messages; `status=dead` lists the dead letters."""
    return runtime.unit_of_work(outbox.list_messages, status=status_, offset=offset, limit=limit)


@router.get("/queues", response_model=list[QueueOut])
def queues(runtime: RuntimeDep, staff: Watching):
    """What waits per bot account and lane (0 answers, 1 staff tasks, 2 escalations, 3 broadcasts), since
    when, and the dead letters."""
    return runtime.unit_of_work(outbox.queues)


@router.post("/{message_id}/retry", response_model=OutboxOut)
def retry(message_id: Id, runtime: RuntimeDep, staff: Watching):
    """Send a dead letter again at once, with a fresh round of attempts; its ticket's trail says who."""
    return runtime.unit_of_work(outbox.retry_dead, message_id, now=runtime.clock.now(), staff_id=id_of(staff))


@router.post("/{message_id}/cancel", response_model=OutboxOut)
def cancel(message_id: Id, runtime: RuntimeDep, staff: Watching):
    """Do not send a waiting or dead message at all; its ticket's trail says who."""
    return runtime.unit_of_work(outbox.cancel_unsent, message_id, now=runtime.clock.now(), staff_id=id_of(staff))
