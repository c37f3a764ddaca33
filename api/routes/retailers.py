"""Retailers, each in the caller's view (`bot.services.access`): admins and supervisors see everyone;
an account manager sees and exports only their own; callback staff see whom to call; agents see what
serving a ticket needs; marketing staff see none."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Query, UploadFile, status
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import AdminDep, CurrentStaff, RuntimeDep, require
from api.schemas import (
    RETAILER_VIEWS,
    AnyRetailerOut,
    BindingIn,
    BindingOut,
    ErrorOut,
    Page,
    RetailerChangeOut,
    RetailerIn,
    RetailerOut,
    RetailerUpdate,
    TerritoryTransferIn,
    TerritoryTransferOut,
)
from bot.fields import Id, Offset, SearchText
from bot.models import StaffMember, id_of
from bot.runtime import Runtime
from bot.services import access, directory, retailer_import, spreadsheets

router = APIRouter(prefix="/retailers", tags=["retailers"])


def _manager_filter(staff: StaffMember, manager_id: int | None) -> int | None:
    """A caller held to their own territory asks for it whatever manager they name."""
    return None if access.restricted_to_own(staff) else manager_id


Reader = Annotated[StaffMember, Depends(require(*access.READERS))]
Exporter = Annotated[StaffMember, Depends(require(*access.EXPORTERS))]
Grade = Annotated[int, Query(ge=1, le=30, description="档位")]
Search = Annotated[SearchText | None, Query(description="许可证号、店名或经营者（经营者只在能看到的客户中查找）")]


@router.post("", response_model=RetailerOut, status_code=status.HTTP_201_CREATED)
def create(body: RetailerIn, runtime: RuntimeDep, _: AdminDep):
    return runtime.unit_of_work(directory.create_retailer, body.model_dump(), now=runtime.clock.now())


@router.get("", response_model=Page[AnyRetailerOut])
def list_retailers(runtime: RuntimeDep, staff: Reader,
                   district: SearchText | None = None, manager_id: Id | None = None,
                   grade: Grade | None = None, active: bool | None = None, q: Search = None,
                   offset: Annotated[Offset, Query()] = 0,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50):
    flt = directory.RetailerFilter(q=q, district=district, manager_id=_manager_filter(staff, manager_id),
                                   grade=grade, active=active)

    def search(session):
        total, rows = directory.search_retailers(
            session, flt, offset=offset, limit=limit, visible=access.retailers_visible(staff),
            owner_visible=access.retailers_visible(staff, at_least=access.View.CALLBACK))
        return total, rows, access.retailer_views(session, staff, [id_of(row) for row in rows])

    total, rows, views = runtime.unit_of_work(search)
    return Page[AnyRetailerOut](total=total, items=[RETAILER_VIEWS[views[row.id]].model_validate(row)
                                                    for row in rows])


@router.get("/export", response_class=Response,
            responses={200: {"content": {"text/csv": {},
                                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
def export(runtime: RuntimeDep, staff: Exporter, format: Literal["csv", "xlsx"] = "csv",
           district: SearchText | None = None, manager_id: Id | None = None, grade: Grade | None = None,
           active: bool | None = None, q: Search = None):
    """The filtered list as a spreadsheet (a manager gets only their own retailers); cells that
    a spreadsheet program would run as formulas are written as text."""
    flt = directory.RetailerFilter(q=q, district=district, manager_id=_manager_filter(staff, manager_id),
                                   grade=grade, active=active)
    rows = runtime.unit_of_work(directory.export_rows, flt,
                                visible=access.retailers_visible(staff, at_least=access.View.FULL))
    return Response(spreadsheets.write_table(rows, format, "零售客户"), media_type=spreadsheets.MEDIA_TYPES[format],
                    headers={"Content-Disposition": f'attachment; filename="retailers.{format}"'})


class RowProblemOut(BaseModel):
    row: int
    column: str
    message: str


class ImportRefusedOut(BaseModel):
    """A refused import's row-by-row report (with the counts of `ImportReport`): nothing was changed."""

    detail: str
    errors: list[RowProblemOut]


@router.post("/import", responses={
    413: {"model": ErrorOut, "description": "the file is over a size limit, which the detail names"},
    422: {"model": ErrorOut | ImportRefusedOut,
          "description": "a bad request, or a row-by-row report; nothing was changed"}})
async def import_file(runtime: RuntimeDep, staff: AdminDep,
                      file: Annotated[UploadFile, File(description="XLSX, XLS or CSV (UTF-8 or GBK)")],
                      dry_run: bool = False,
                      full: Annotated[bool, Query(description="mark retailers absent from the file inactive")] = False):
    """Upsert the customer export by licence number: all rows valid, or nothing changes.

    The file is read and checked in a worker thread and written in one unit of work there,
    so the event loop (the WebSocket, other calls) is not held by a large file."""
    content = await file.read(spreadsheets.MAX_BYTES + 1)
    report = await run_import(runtime, content, file.filename or "", dry_run=dry_run, full=full,
                              staff_id=id_of(staff))
    return await run_in_threadpool(_answer, report)


async def run_import(runtime: Runtime, content: bytes, filename: str, *, dry_run: bool, full: bool,
                     staff_id: int) -> retailer_import.ImportReport:
    """Check a customer export and apply it (or only report, on a dry run): the API's and the console's
    import. Raises TableError when the file is no table."""
    policy = await run_in_threadpool(runtime.unit_of_work, retailer_import.import_policy, runtime.policies.directory)
    table = await run_in_threadpool(retailer_import.read_directory, content, filename, policy)
    return await run_in_threadpool(runtime.unit_of_work, retailer_import.apply_directory, table,
                                   dry_run=dry_run, full=full, staff_id=staff_id, now=runtime.clock.now(),
                                   policies=runtime.policies, tz=runtime.settings.tz)


def _answer(report: retailer_import.ImportReport) -> Response:
    """Encoded in the worker thread too, piece by piece: json's C encoder would hold the GIL,
    and so the event loop, for the 0.1 s a report of 30,000 changes takes."""
    body = report.as_dict()
    if report.errors:
        body = {"detail": f"导入未执行：{len(report.errors)} 处错误，请按行修改后重新上传", **body}
    text = "".join(json.JSONEncoder(ensure_ascii=False).iterencode(body))
    return Response(text.encode(), media_type="application/json",
                    status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if report.errors else status.HTTP_200_OK)


@router.post("/transfer", response_model=TerritoryTransferOut,
             dependencies=[Depends(require(*access.SUPERVISORS))])
def transfer(body: TerritoryTransferIn, runtime: RuntimeDep, staff: CurrentStaff):
    """Move retailers (a whole territory, a district of it, or listed ones) and their open visits."""
    moved, visits = runtime.unit_of_work(
        directory.transfer_territory, from_manager_id=body.from_manager_id,
        to_manager_id=body.to_manager_id, district=body.district, retailer_ids=body.retailer_ids,
        staff_id=id_of(staff), now=runtime.clock.now(), policies=runtime.policies, tz=runtime.settings.tz)
    return TerritoryTransferOut(retailers_moved=moved, visits_moved=visits)


@router.get("/{retailer_id}", response_model=AnyRetailerOut)
def read(retailer_id: Id, runtime: RuntimeDep, staff: Reader):
    retailer, view = runtime.unit_of_work(access.readable_retailer, staff, retailer_id)
    return RETAILER_VIEWS[view].model_validate(retailer)


@router.get("/{retailer_id}/history", response_model=list[RetailerChangeOut])
def history(retailer_id: Id, runtime: RuntimeDep, staff: Exporter):
    """Old and new values of every field, so only for those who see the retailer in full."""
    runtime.unit_of_work(access.readable_retailer, staff, retailer_id, at_least=access.View.FULL)
    return runtime.unit_of_work(directory.history_of, retailer_id)


@router.patch("/{retailer_id}", response_model=RetailerOut)
def update(retailer_id: Id, body: RetailerUpdate, runtime: RuntimeDep, staff: AdminDep):
    return runtime.unit_of_work(directory.update_retailer, retailer_id,
                                body.model_dump(exclude_unset=True), now=runtime.clock.now(),
                                policies=runtime.policies, tz=runtime.settings.tz, staff_id=staff.id)


@router.get("/{retailer_id}/bindings", response_model=list[BindingOut])
def list_bindings(retailer_id: Id, runtime: RuntimeDep, _: AdminDep):
    return runtime.unit_of_work(directory.bindings_of, retailer_id)


@router.post("/{retailer_id}/bindings", response_model=BindingOut, status_code=status.HTTP_201_CREATED)
def bind(retailer_id: Id, body: BindingIn, runtime: RuntimeDep, staff: AdminDep):
    return runtime.unit_of_work(directory.staff_bind, retailer_id, platform=body.platform,
                                chat_user_id=body.chat_user_id, staff=staff, now=runtime.clock.now())


@router.delete("/{retailer_id}/bindings/{binding_id}", status_code=status.HTTP_204_NO_CONTENT)
def unbind(retailer_id: Id, binding_id: Id, runtime: RuntimeDep, _: AdminDep):
    runtime.unit_of_work(directory.staff_unbind, retailer_id, binding_id)
