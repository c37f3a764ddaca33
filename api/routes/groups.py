from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import AdminDep, RuntimeDep
from api.schemas import GroupAccountIn, GroupIn, GroupOut, GroupUpdate
from bot.fields import Id
from bot.models import ChatGroup
from bot.services import accounts, directory

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
    return runtime.unit_of_work(directory.update_group, group_id,
                                body.model_dump(exclude_unset=True))


def _accounts_of(session, group_id: int) -> list[str]:
    group = directory.get_or_404(session, ChatGroup, group_id, "群")
    return sorted(accounts.members_of(session, [(group.platform, group.group_id)]).get(
        (group.platform, group.group_id), set()))


@router.get("/{group_id}/accounts", response_model=list[str])
def group_accounts(group_id: Id, runtime: RuntimeDep, _: AdminDep):
    """The bot accounts in the group: its messages go out only through one of them."""
    return runtime.unit_of_work(_accounts_of, group_id)


@router.post("/{group_id}/accounts", response_model=list[str], status_code=status.HTTP_201_CREATED)
def add_account(group_id: Id, body: GroupAccountIn, runtime: RuntimeDep, _: AdminDep):
    """Say a bot account is in the group (one the service has seen connect); answers the group's accounts.
    Its next group list at connect does not undo this."""
    def add(session):
        accounts.add_member(session, group_id, body.bot_id, now=runtime.clock.now())
        return _accounts_of(session, group_id)
    return runtime.unit_of_work(add)


@router.delete("/{group_id}/accounts/{bot_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_account(group_id: Id, bot_id: str, runtime: RuntimeDep, _: AdminDep) -> Response:
    """Say a bot account is not in the group (its next group list at connect may say it is again)."""
    runtime.unit_of_work(accounts.remove_member, group_id, bot_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
