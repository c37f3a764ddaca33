from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import AdminDep, CurrentStaff, RuntimeDep
from api.schemas import StaffIn, StaffOut, StaffUpdate, StaffWithToken
from bot.fields import Id
from bot.models import StaffMember
from bot.services import directory, signin
from bot.services import staff as staff_service

router = APIRouter(prefix="/staff", tags=["staff"])


@router.get("/me", response_model=StaffOut)
def me(staff: CurrentStaff):
    return staff


@router.post("", response_model=StaffWithToken, status_code=status.HTTP_201_CREATED)
def create(body: StaffIn, runtime: RuntimeDep, _: AdminDep):
    """Create a staff member; the response carries their API token, shown only once."""
    member, token = runtime.unit_of_work(staff_service.create_with_token, body.model_dump(mode="json"),
                                         now=runtime.clock.now())
    return StaffWithToken(**StaffOut.model_validate(member).model_dump(), token=token)


@router.get("", response_model=list[StaffOut])
def list_staff(runtime: RuntimeDep, _: AdminDep):
    return runtime.unit_of_work(directory.list_rows, StaffMember)


@router.get("/{staff_id}", response_model=StaffOut)
def read(staff_id: Id, runtime: RuntimeDep, _: AdminDep):
    return runtime.unit_of_work(directory.get_or_404, StaffMember, staff_id, "员工")


@router.patch("/{staff_id}", response_model=StaffOut)
def update(staff_id: Id, body: StaffUpdate, runtime: RuntimeDep, _: AdminDep):
    return runtime.unit_of_work(staff_service.update_staff, staff_id,
                                body.model_dump(mode="json", exclude_unset=True))


@router.post("/{staff_id}/token", response_model=StaffWithToken)
def rotate_token(staff_id: Id, runtime: RuntimeDep, caller: AdminDep):
    """Issue a new token; the old one and the member's console sessions stop working at once (the only admin
    cannot rotate their own)."""

    member, token = runtime.unit_of_work(signin.reset_token, staff_id, caller=caller, now=runtime.clock.now())
    return StaffWithToken(**StaffOut.model_validate(member).model_dump(), token=token)
