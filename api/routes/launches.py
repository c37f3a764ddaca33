"""New-product publicity for staff: the catalogue, launches, their publicity plans and approval,
deliveries and retailers' interest. Admins and marketing staff write; all staff read."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, File, UploadFile, status
from pydantic import AnyHttpUrl, Field

from api.deps import CurrentStaff, RuntimeDep, in_local_zone, require
from api.routes.supply import DeliveryOut, InterestOut
from api.schemas import ErrorOut, Input, Name, Output
from bot import texts
from bot.fields import Day, Id, Price, SearchText
from bot.models import Approval, Product, StaffMember, id_of
from bot.services import access, launches, media, products
from bot.services.launches import PostIn

router = APIRouter(tags=["launches"])
PublisherDep = Annotated[StaffMember, Depends(require(*access.PUBLISHERS))]


class ProductIn(Input):
    stored_as = Product

    name: Annotated[str, Field(min_length=1, max_length=64, description="如 中华(软)")]
    brand: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    spec: Annotated[str, Field(max_length=64)] | None = None
    aliases: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(default_factory=list, max_length=20)
    wholesale_price: Annotated[Price, Field(le=100_000)] | None = None
    retail_price: Annotated[Price, Field(le=10_000)] | None = None
    price_class: Annotated[str, Field(pattern="^[ABCD]$")] | None = None
    manufacturer: Annotated[str, Field(max_length=64)] | None = None


class ProductUpdate(Input):
    stored_as = Product

    spec: Annotated[str, Field(max_length=64)] | None = None
    aliases: list[Annotated[str, Field(min_length=1, max_length=32)]] | None = Field(None, max_length=20)
    wholesale_price: Annotated[Price, Field(le=100_000)] | None = None
    retail_price: Annotated[Price, Field(le=10_000)] | None = None
    price_class: Annotated[str, Field(pattern="^[ABCD]$")] | None = None
    manufacturer: Annotated[str, Field(max_length=64)] | None = None


class ProductOut(Output):
    id: int
    name: str
    brand: str
    spec: str | None
    aliases: list[str]
    wholesale_price: Decimal | None
    retail_price: Decimal | None
    price_class: str | None
    manufacturer: str | None


class LaunchIn(Input):
    """`plan` left out or null: the default plan."""

    nullable = frozenset({"image_url", "plan"})

    product: ProductIn
    launch_date: Day
    selling_points: Annotated[str, Field(min_length=1, max_length=500)]
    image_url: AnyHttpUrl | None = None
    source: Annotated[str, Field(pattern="^(district|manufacturer)$")] = "district"
    districts: list[Name] = Field(default_factory=list, max_length=500)
    group_ids: list[Id] = Field(default_factory=list, max_length=500)
    plan: list[PostIn] | None = Field(None, max_length=20,
                                      description="不填则用默认计划：上市前3天、上市当天、上市后7天 09:00")


class LaunchUpdate(Input):
    """Only what is given changes; the card's product fields are edited on the product."""

    launch_date: Day | None = None
    selling_points: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    districts: list[Name] | None = Field(None, max_length=500)
    group_ids: list[Id] | None = Field(None, max_length=500)


class DecisionIn(Input):
    approve: bool


class PostOut(Output):
    id: int
    send_at: datetime
    kind: str
    note: str | None
    state: str
    sent_at: datetime | None


class LaunchOut(Output):
    id: int
    product: ProductOut
    launch_date: date
    selling_points: str
    image_url: str | None
    source: str
    approval: str
    approved_at: datetime | None
    districts: list[str]
    group_ids: list[int]
    plan: list[PostOut] = []
    card: str = ""


@router.post("/products", response_model=ProductOut, status_code=status.HTTP_201_CREATED)
def create_product(body: ProductIn, runtime: RuntimeDep, _: PublisherDep):
    data = body.model_dump(exclude_none=True)
    return runtime.unit_of_work(products.create_product, data, now=runtime.clock.now())


@router.get("/products", response_model=list[ProductOut])
def list_products(runtime: RuntimeDep, _: CurrentStaff, q: SearchText | None = None):
    return runtime.unit_of_work(products.list_products, q=q)


@router.patch("/products/{product_id}", response_model=ProductOut)
def update_product(product_id: Id, body: ProductUpdate, runtime: RuntimeDep, _: PublisherDep):
    return runtime.unit_of_work(products.update_product, product_id, body.model_dump(exclude_unset=True))


def _view(session, launch, product, tz) -> LaunchOut:
    body = LaunchOut.model_validate({**launch.model_dump(), "product": ProductOut.model_validate(product)})
    body.plan = [PostOut.model_validate(post) for post in launches.plan_of(session, launch.id)]
    body.card = texts.launch_card(launch, product)
    return body


def _out(runtime, launch_id: Id) -> LaunchOut:
    return runtime.unit_of_work(lambda session: _view(session, *launches.get_launch(session, launch_id),
                                                      runtime.settings.tz))


def _local(posts: list[PostIn], tz) -> list[PostIn]:
    """Times given without an offset are the district's local time."""
    return [post.model_copy(update={"send_at": in_local_zone(post.send_at, tz)}) for post in posts]


@router.post("/launches", response_model=LaunchOut, status_code=status.HTTP_201_CREATED)
def create_launch(body: LaunchIn, runtime: RuntimeDep, staff: PublisherDep):
    """A launch and its publicity plan. A manufacturer's publicity waits for approval before it posts."""
    tz = runtime.settings.tz
    data = body.model_dump(exclude={"product", "plan"}, mode="json") | {"launch_date": body.launch_date}
    launch = runtime.unit_of_work(launches.create_launch, body.product.model_dump(exclude_none=True), data,
                                  None if body.plan is None else _local(body.plan, tz), staff_id=staff.id,
                                  now=runtime.clock.now(), tz=tz)
    return _out(runtime, id_of(launch))


@router.get("/launches", response_model=list[LaunchOut])
def list_launches(runtime: RuntimeDep, _: CurrentStaff, approval: Approval | None = None):
    return runtime.unit_of_work(lambda session: [
        _view(session, launch, product, runtime.settings.tz)
        for launch, product in launches.list_launches(session, approval=approval)])


@router.get("/launches/{launch_id}", response_model=LaunchOut)
def read_launch(launch_id: Id, runtime: RuntimeDep, _: CurrentStaff):
    return _out(runtime, launch_id)


@router.patch("/launches/{launch_id}", response_model=LaunchOut)
def update_launch(launch_id: Id, body: LaunchUpdate, runtime: RuntimeDep, _: PublisherDep):
    """Correct the launch date, selling points or targets: the posts not sent yet go out so."""
    runtime.unit_of_work(launches.update_launch, launch_id, body.model_dump(exclude_unset=True))
    return _out(runtime, launch_id)


@router.put("/launches/{launch_id}/plan", response_model=LaunchOut)
def replace_plan(launch_id: Id, body: Annotated[list[PostIn], Field(max_length=20)], runtime: RuntimeDep,
                 _: PublisherDep):
    """Replace the posts not sent yet (times without an offset are local)."""
    runtime.unit_of_work(launches.set_plan, launch_id, _local(body, runtime.settings.tz), now=runtime.clock.now())
    return _out(runtime, launch_id)


@router.post("/launches/{launch_id}/approval", response_model=LaunchOut)
def decide(launch_id: Id, body: DecisionIn, runtime: RuntimeDep, staff: PublisherDep):
    """Approve a manufacturer's publicity (its posts may go out) or reject it (they never will)."""
    runtime.unit_of_work(launches.decide, launch_id, approve=body.approve, staff_id=id_of(staff),
                         now=runtime.clock.now())
    return _out(runtime, launch_id)


@router.post("/launches/{launch_id}/image", response_model=LaunchOut,
             responses={413: {"model": ErrorOut, "description": "over media.MAX_IMAGE_BYTES"}})
def upload_image(launch_id: Id, runtime: RuntimeDep, staff: PublisherDep,
                 file: Annotated[UploadFile, File(description="JPG、PNG、GIF 或 WebP，最多 2 MB")]):
    """The launch's picture, stored by the service and sent with the posts not sent yet."""
    runtime.unit_of_work(launches.attach_image, launch_id, file.file.read(media.MAX_IMAGE_BYTES + 1),
                         base_url=runtime.settings.console_url, staff_id=staff.id, now=runtime.clock.now())
    return _out(runtime, launch_id)


@router.get("/launches/{launch_id}/deliveries", response_model=list[DeliveryOut])
def deliveries(launch_id: Id, runtime: RuntimeDep, _: CurrentStaff):
    return runtime.unit_of_work(launches.deliveries, launch_id)


@router.get("/launches/{launch_id}/interest", response_model=list[InterestOut])
def interest_counts(launch_id: Id, runtime: RuntimeDep, _: CurrentStaff):
    """Who asked about the product, and the 想订 / 不感兴趣 answers, per group."""
    return runtime.unit_of_work(launches.interest_counts, launch_id)
