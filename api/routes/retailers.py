from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import AdminDep, RuntimeDep
from api.schemas import BindingIn, BindingOut, Page, RetailerIn, RetailerOut, RetailerUpdate
from bot.models import Retailer
from bot.services import directory

router = APIRouter(prefix="/retailers", tags=["retailers"])


@router.post("", response_model=RetailerOut, status_code=status.HTTP_201_CREATED)
def create(body: RetailerIn, runtime: RuntimeDep, _: AdminDep):
    return runtime.unit_of_work(directory.create_retailer, body.model_dump(), now=runtime.clock.now())


@router.get("", response_model=Page[RetailerOut])
def list_retailers(runtime: RuntimeDep, _: AdminDep,
                   district: str | None = None, manager_id: int | None = None,
                   active: bool | None = None,
                   q: Annotated[str | None, Query(max_length=64, description="店名或许可证号")] = None,
                   offset: Annotated[int, Query(ge=0)] = 0,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50):
    total, rows = runtime.unit_of_work(
        directory.search_retailers, district=district, manager_id=manager_id, active=active, q=q,
        offset=offset, limit=limit)
    return Page[RetailerOut](total=total, items=[RetailerOut.model_validate(row) for row in rows])


@router.get("/{retailer_id}", response_model=RetailerOut)
def read(retailer_id: int, runtime: RuntimeDep, _: AdminDep):
    return runtime.unit_of_work(directory.get_or_404, Retailer, retailer_id, "零售客户")


@router.patch("/{retailer_id}", response_model=RetailerOut)
def update(retailer_id: int, body: RetailerUpdate, runtime: RuntimeDep, _: AdminDep):
    return runtime.unit_of_work(directory.update_retailer, retailer_id,
                                body.model_dump(exclude_unset=True), now=runtime.clock.now())


@router.get("/{retailer_id}/bindings", response_model=list[BindingOut])
def list_bindings(retailer_id: int, runtime: RuntimeDep, _: AdminDep):
    return runtime.unit_of_work(directory.bindings_of, retailer_id)


@router.post("/{retailer_id}/bindings", response_model=BindingOut, status_code=status.HTTP_201_CREATED)
def bind(retailer_id: int, body: BindingIn, runtime: RuntimeDep, staff: AdminDep):
    return runtime.unit_of_work(directory.staff_bind, retailer_id, platform=body.platform,
                                chat_user_id=body.chat_user_id, staff=staff, now=runtime.clock.now())


@router.delete("/{retailer_id}/bindings/{binding_id}", status_code=status.HTTP_204_NO_CONTENT)
def unbind(retailer_id: int, binding_id: int, runtime: RuntimeDep, _: AdminDep):
    runtime.unit_of_work(directory.staff_unbind, retailer_id, binding_id)
