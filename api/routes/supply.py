"""Supply notices for staff: drafts, the item table (JSON or a spreadsheet), scheduling, publishing,
corrections, withdrawal, and how each group's delivery went. Admins and marketing staff write; all staff read."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentStaff, RuntimeDep, in_local_zone, require
from api.schemas import ErrorOut, Input, Name, Output
from bot import texts
from bot.fields import Day, Id, Moment, Offset
from bot.models import NoticeState, StaffMember, SupplyNotice, id_of
from bot.services import access, supply
from bot.services.supply import ItemIn, QuotaBand

router = APIRouter(prefix="/supply/notices", tags=["supply"])
PublisherDep = Annotated[StaffMember, Depends(require(*access.PUBLISHERS))]


class NoticeIn(Input):
    stored_as = SupplyNotice

    title: Annotated[str, Field(min_length=1, max_length=128)]
    period_start: Day
    period_end: Day
    order_opens_at: Moment = Field(description="无时区时按本地时间")
    order_closes_at: Moment
    notes: Annotated[str, Field(max_length=2000)] | None = None
    districts: list[Name] = Field(default_factory=list, max_length=500,
                                  description="目标区域；与 group_ids 都为空时发往所有群")
    group_ids: list[Id] = Field(default_factory=list, max_length=500, description="目标群（群的编号）")
    items: list[ItemIn] = Field(default_factory=list, max_length=supply.MAX_ITEMS)


class NoticeUpdate(Input):
    stored_as = SupplyNotice

    title: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    period_start: Day | None = None
    period_end: Day | None = None
    order_opens_at: Moment | None = None
    order_closes_at: Moment | None = None
    notes: Annotated[str, Field(max_length=2000)] | None = None
    districts: list[Name] | None = Field(None, max_length=500)
    group_ids: list[Id] | None = Field(None, max_length=500)


class CorrectionIn(NoticeUpdate):
    items: list[ItemIn] | None = Field(None, max_length=supply.MAX_ITEMS, description="新的完整品规表；不改则不填")

    @model_validator(mode="after")
    def _something(self) -> CorrectionIn:
        if not self.model_fields_set:
            raise ValueError("更正至少要改一项")
        return self


class ScheduleIn(Input):
    publish_at: Moment


class WithdrawIn(Input):
    nullable = frozenset({"reason"})

    reason: Annotated[str, Field(max_length=200)] | None = None


class ItemOut(BaseModel):
    product_id: int
    product: str
    brand: str
    wholesale_price: Decimal | None
    retail_price: Decimal | None
    price_class: str | None
    scarce: bool
    quotas: list[QuotaBand]
    note: str | None


class NoticeOut(Output):
    id: int
    title: str
    period_start: date
    period_end: date
    order_opens_at: datetime
    order_closes_at: datetime
    notes: str | None
    districts: list[str]
    group_ids: list[int]
    state: str
    publish_at: datetime | None
    published_at: datetime | None
    withdrawn_at: datetime | None
    revision: int
    items: list[ItemOut] = []
    text: str | None = Field(None, description="群里看到的通知正文")


class DeliveryOut(Output):
    broadcast_id: int
    purpose: str
    revision: int
    chat_group_id: int
    group_id: str
    group_name: str | None
    status: str
    parts: int
    parts_sent: int
    attempts: int
    last_error: str | None
    sent_at: datetime | None


class InterestOut(BaseModel):
    group_id: str | None
    group_name: str | None
    product: str | None
    kind: str
    count: int


def _out(runtime, notice_id: Id) -> NoticeOut:
    notice, items = runtime.unit_of_work(supply.get_notice, notice_id)
    body = NoticeOut.model_validate(notice)
    body.items = [ItemOut(product_id=product.id, product=product.name, brand=product.brand,
                          wholesale_price=product.wholesale_price, retail_price=product.retail_price,
                          price_class=product.price_class, scarce=item.scarce, quotas=item.quotas, note=item.note)
                  for item, product in items]
    body.text = texts.supply_notice(notice, items, runtime.settings.tz) if items else None
    return body


def _local(data: dict, tz) -> dict:
    return {key: in_local_zone(value, tz) if isinstance(value, datetime) else value for key, value in data.items()}


@router.post("", response_model=NoticeOut, status_code=status.HTTP_201_CREATED)
def create(body: NoticeIn, runtime: RuntimeDep, staff: PublisherDep):
    """A draft notice, with its items if given (they can also be uploaded as a spreadsheet)."""
    data = _local(body.model_dump(exclude={"items"}), runtime.settings.tz)
    notice = runtime.unit_of_work(supply.create_notice, data, body.items, staff_id=staff.id,
                                  now=runtime.clock.now())
    return _out(runtime, id_of(notice))


@router.get("", response_model=list[NoticeOut])
def list_notices(runtime: RuntimeDep, _: CurrentStaff, state: NoticeState | None = None,
                 offset: Annotated[Offset, Query()] = 0, limit: Annotated[int, Query(ge=1, le=200)] = 50):
    return runtime.unit_of_work(supply.list_notices, state=state, offset=offset, limit=limit)


@router.get("/{notice_id}", response_model=NoticeOut)
def read(notice_id: Id, runtime: RuntimeDep, _: CurrentStaff):
    """The notice with its items and the text the groups see."""
    return _out(runtime, notice_id)


@router.patch("/{notice_id}", response_model=NoticeOut)
def update(notice_id: Id, body: NoticeUpdate, runtime: RuntimeDep, _: PublisherDep):
    """Edit a draft or scheduled notice (a published one is changed by a correction)."""
    changes = _local(body.model_dump(exclude_unset=True), runtime.settings.tz)
    runtime.unit_of_work(supply.update_notice, notice_id, changes, now=runtime.clock.now())
    return _out(runtime, notice_id)


@router.put("/{notice_id}/items", response_model=NoticeOut)
def replace_items(notice_id: Id, body: Annotated[list[ItemIn], Field(max_length=supply.MAX_ITEMS)],
                  runtime: RuntimeDep, _: PublisherDep):
    """Replace the whole item table of a draft or scheduled notice."""
    runtime.unit_of_work(supply.set_items, notice_id, body, now=runtime.clock.now())
    return _out(runtime, notice_id)


@router.post("/{notice_id}/items/upload", response_model=NoticeOut,
             responses={413: {"model": ErrorOut,
                              "description": "the file is over a size limit, which the detail names"},
                        422: {"description": "a row-by-row report; nothing was changed"}})
async def upload_items(notice_id: Id, runtime: RuntimeDep, _: PublisherDep,
                       file: Annotated[UploadFile, File(
                           description="XLSX 或 CSV：品规、批发价、建议零售价、紧俏、各档位列（如 11-20档）")]):
    """The item table from a spreadsheet: every row valid, or nothing changes and each bad row is named.
    The file is read in a worker thread, off the event loop."""
    content = await file.read(supply.ITEM_TABLE_LIMITS.bytes + 1)
    table = await run_in_threadpool(supply.parse_item_table, content, file.filename or "")
    if table.problems:
        problems = [{"row": problem.row, "message": problem.message} for problem in table.problems]
        return JSONResponse({"detail": f"品规表未导入：{len(problems)} 处错误，请修改后重新上传",
                             "problems": problems}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    await run_in_threadpool(runtime.unit_of_work, supply.set_items, notice_id, table.items,
                            now=runtime.clock.now())
    return await run_in_threadpool(_out, runtime, notice_id)


@router.post("/{notice_id}/schedule", response_model=NoticeOut)
def schedule(notice_id: Id, body: ScheduleIn, runtime: RuntimeDep, _: PublisherDep):
    """Publish automatically at `publish_at` (local time when no offset is given)."""
    runtime.unit_of_work(supply.schedule, notice_id, in_local_zone(body.publish_at, runtime.settings.tz),
                         now=runtime.clock.now())
    return _out(runtime, notice_id)


@router.post("/{notice_id}/publish", response_model=NoticeOut)
def publish(notice_id: Id, runtime: RuntimeDep, _: PublisherDep):
    """Send now to every target group, through the rate-limited outbox."""
    runtime.unit_of_work(supply.publish, notice_id, now=runtime.clock.now(), tz=runtime.settings.tz)
    return _out(runtime, notice_id)


@router.post("/{notice_id}/correct", response_model=NoticeOut)
def correct(notice_id: Id, body: CorrectionIn, runtime: RuntimeDep, _: PublisherDep):
    """Change a published notice; the groups get a short 更正 saying what changed."""
    changes = _local(body.model_dump(exclude_unset=True, exclude={"items"}), runtime.settings.tz)
    runtime.unit_of_work(supply.correct, notice_id, changes, body.items, now=runtime.clock.now(),
                         tz=runtime.settings.tz)
    return _out(runtime, notice_id)


@router.post("/{notice_id}/withdraw", response_model=NoticeOut)
def withdraw(notice_id: Id, body: WithdrawIn, runtime: RuntimeDep, _: PublisherDep):
    """Stop the notice: unsent parts are cancelled; groups that already have it are told."""
    runtime.unit_of_work(supply.withdraw, notice_id, body.reason, now=runtime.clock.now())
    return _out(runtime, notice_id)


@router.get("/{notice_id}/deliveries", response_model=list[DeliveryOut])
def deliveries(notice_id: Id, runtime: RuntimeDep, _: CurrentStaff):
    """Per group and broadcast (notice, corrections, withdrawal): sent, pending, retrying, failed or cancelled."""
    return runtime.unit_of_work(supply.deliveries, notice_id)


@router.get("/{notice_id}/interest", response_model=list[InterestOut])
def interest_counts(notice_id: Id, runtime: RuntimeDep, _: CurrentStaff):
    """How many retailers asked about the notice, per group and product."""
    return runtime.unit_of_work(supply.interest_counts, notice_id)
