from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import RuntimeDep, require
from api.schemas import OutboxOut
from bot.fields import Offset
from bot.models import OutboxStatus, Role
from bot.services import outbox

router = APIRouter(prefix="/outbox", tags=["outbox"],
                   dependencies=[Depends(require(Role.ADMIN, Role.SUPERVISOR))])


@router.get("", response_model=list[OutboxOut])
def list_outbox(runtime: RuntimeDep,
                status_: Annotated[OutboxStatus | None, Query(alias="status")] = None,
                offset: Annotated[Offset, Query()] = 0,
                limit: Annotated[int, Query(ge=1, le=200)] = 50):
    """Proactive messages; `status=dead` lists the dead letters."""
    return runtime.unit_of_work(outbox.list_messages, status=status_, offset=offset, limit=limit)
