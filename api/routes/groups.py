from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import AdminDep, RuntimeDep
from api.schemas import GroupIn, GroupOut, GroupUpdate
from bot.fields import Id
from bot.models import ChatGroup
from bot.services import directory

router = APIRouter(prefix="/groups", tags=["groups"])


@router.post("", response_model=GroupOut, status_code=status.HTTP_201_CREATED)
def create(body: GroupIn, runtime: RuntimeDep, _: AdminDep):
    """Register a group: only registered groups have their requests turned into tickets."""
    return runtime.unit_of_work(directory.create_group, body.model_dump(), now=runtime.clock.now())


@router.get("", response_model=list[GroupOut])
def list_groups(runtime: RuntimeDep, _: AdminDep):
    return runtime.unit_of_work(directory.list_rows, ChatGroup)


@router.get("/{group_id}", response_model=GroupOut)
def read(group_id: Id, runtime: RuntimeDep, _: AdminDep):
    return runtime.unit_of_work(directory.get_or_404, ChatGroup, group_id, "群")


@router.patch("/{group_id}", response_model=GroupOut)
def update(group_id: Id, body: GroupUpdate, runtime: RuntimeDep, _: AdminDep):
    return runtime.unit_of_work(directory.update_row, ChatGroup, group_id, "群",
                                body.model_dump(exclude_unset=True))
