"""The new-product publicity pages (新品宣传): launches with the approval queue for manufacturers' publicity,
a launch's card and publicity plan with each post previewed as the groups will read it, deliveries and the
retailers' 想订 / 不感兴趣 per group. Every rule is `launches`', as for the API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from api.console.supply import INTEREST_NAMES, day, delivery_board, moment, target_fields, targets
from api.console.web import FormMemberDep, Member, MemberDep, allowed, back_to, render
from bot import texts
from bot.models import Approval, Launch, id_of
from bot.runtime import get_runtime
from bot.services import access, launches, media
from bot.services.errors import Conflict, NotFound, ServiceError, TooLarge
from bot.services.launches import PostIn

router = APIRouter()
APPROVAL_NAMES = {Approval.PENDING: "待审批", Approval.APPROVED: "已批准", Approval.REJECTED: "已驳回"}
SOURCE_NAMES = {"district": "区营销部", "manufacturer": "工业企业"}
KIND_NAMES = {"before": "上市前预告", "launch_day": "上市当天", "after": "上市后回顾"}
POST_STATES = {"scheduled": "待发送", "sent": "已发送", "cancelled": "已取消"}
Typed = Annotated[str, Form()]
Cells = Annotated[list[str], Form(default_factory=list)]


def _typed(districts: Cells, group_ids: Cells, name: Typed = "", spec: Typed = "", manufacturer: Typed = "",
           wholesale_price: Typed = "", retail_price: Typed = "", launch_date: Typed = "",
           selling_points: Typed = "", image_url: Typed = "", source: Typed = "district") -> dict[str, Any]:
    """The new launch's fields as typed, kept to show again after a refusal."""
    return {"districts": districts, "group_ids": group_ids, "name": name, "spec": spec,
            "manufacturer": manufacturer, "wholesale_price": wholesale_price, "retail_price": retail_price,
            "launch_date": launch_date, "selling_points": selling_points, "image_url": image_url, "source": source}


TypedDep = Annotated[dict[str, Any], Depends(_typed)]


def _price(text: str, label: str, most: int) -> Decimal | None:
    if not text.strip():
        return None
    try:
        value = Decimal(text.strip().removesuffix("元"))
    except InvalidOperation:
        raise ServiceError(f"{label}不是数字：“{text}”") from None
    if not 0 <= value <= most or value != value.quantize(Decimal("0.01")):
        raise ServiceError(f"{label}应在 0 到 {most} 元之间，最多两位小数")
    return value


def _text(text: str, label: str, most: int, *, required: bool = False) -> str | None:
    text = text.strip()
    if required and not text:
        raise ServiceError(f"请填写{label}")
    if len(text) > most:
        raise ServiceError(f"{label}最多 {most} 个字")
    return text or None


def _launch_fields(typed: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the product, the launch) from the form, checked, in the service's terms."""
    image = typed["image_url"].strip()
    if image and not image.startswith(("http://", "https://")):
        raise ServiceError("图片地址应以 http:// 或 https:// 开头")
    if len(image) > 512:
        raise ServiceError("图片地址最多 512 个字符")
    if typed["source"] not in SOURCE_NAMES:
        raise ServiceError("请选择宣传来源")
    product = {"name": _text(typed["name"], "品规名称", 64, required=True), "spec": _text(typed["spec"], "规格", 64),
               "manufacturer": _text(typed["manufacturer"], "厂家", 64),
               "wholesale_price": _price(typed["wholesale_price"], "批发价", 100_000),
               "retail_price": _price(typed["retail_price"], "零售价", 10_000)}
    launch = {"launch_date": day(typed["launch_date"], "上市日期"),
              "selling_points": _text(typed["selling_points"], "卖点", 500, required=True),
              "image_url": image or None, "source": typed["source"],
              **target_fields(typed["districts"], typed["group_ids"])}
    return {key: value for key, value in product.items() if value is not None}, launch


def _plan(kind: list[str], send_at: list[str], note: list[str]) -> list[PostIn]:
    """The plan's rows as typed; a row without a time is left out."""
    if not len(kind) == len(send_at) == len(note):
        raise ServiceError("宣传计划不完整，请刷新页面后重新填写")
    posts = []
    for number, (chosen, at, said) in enumerate(zip(kind, send_at, note, strict=True), start=1):
        if not at.strip():
            continue
        if chosen not in KIND_NAMES:
            raise ServiceError(f"宣传计划第 {number} 行：请选择宣传类型")
        posts.append(PostIn(kind=chosen, send_at=moment(at, f"宣传计划第 {number} 行的发送时间"),
                            note=_text(said, f"宣传计划第 {number} 行的附言", 256)))
    return posts


# -- pages ------------------------------------------------------------------------------------

@router.get("/launches", response_class=HTMLResponse)
def list_page(request: Request, member: MemberDep) -> HTMLResponse:
    allowed(member, access.EVERYONE)
    found = get_runtime().unit_of_work(launches.list_launches)
    return render(request, "launches.html", member, launches=found, approvals=APPROVAL_NAMES, sources=SOURCE_NAMES,
                  pending=[row for row in found if row[0].approval == Approval.PENDING],
                  done=request.query_params.get("done"))


def _new_form(request: Request, member: Member, typed: dict[str, Any], *, error: str | None = None,
              status_code: int = 200) -> HTMLResponse:
    groups, districts = targets()
    return render(request, "launch_new.html", member, status_code=status_code, typed=typed, groups=groups,
                  districts=districts, sources=SOURCE_NAMES, kinds=KIND_NAMES, error=error)


@router.get("/launches/new", response_class=HTMLResponse)
def new_page(request: Request, member: MemberDep) -> HTMLResponse:
    allowed(member, access.PUBLISHERS)
    return _new_form(request, member, _typed([], []))


def _picture(upload: UploadFile | None) -> bytes | None:
    """The uploaded picture's bytes (read up to one byte over the limit, which the service refuses)."""
    if upload is None or not upload.filename:
        return None
    return upload.file.read(media.MAX_IMAGE_BYTES + 1)


def _made(session: Session, product: dict[str, Any], data: dict[str, Any], plan: list[PostIn] | None,
          picture: bytes | None, *, staff_id: int | None, now: datetime, tz: ZoneInfo, base_url: str) -> Launch:
    """The launch with its picture, in one transaction: a refused picture makes no launch."""
    launch = launches.create_launch(session, product, data, plan, staff_id=staff_id, now=now, tz=tz)
    if picture is not None:
        launches.attach_image(session, id_of(launch), picture, base_url=base_url, staff_id=staff_id, now=now)
    return launch


@router.post("/launches", response_model=None)
def create(request: Request, member: FormMemberDep, typed: TypedDep, kind: Cells, send_at: Cells,
           note: Cells, image: Annotated[UploadFile | None, File()] = None) -> HTMLResponse | RedirectResponse:
    """A launch and its plan (the default one when no row has a time). A manufacturer's waits for approval."""
    allowed(member, access.PUBLISHERS)
    runtime = get_runtime()
    try:
        product, data = _launch_fields(typed)
        plan = _plan(kind, send_at, note) or None
        launch = runtime.unit_of_work(_made, product, data, plan, _picture(image), staff_id=member.staff.id,
                                      now=runtime.clock.now(), tz=runtime.settings.tz,
                                      base_url=runtime.settings.console_url)
    except ServiceError as refused:
        return _new_form(request, member, typed, error=str(refused),
                         status_code=413 if isinstance(refused, TooLarge) else 422)
    waiting = "，等待审批后才会发出" if launch.approval == Approval.PENDING else ""
    return back_to(f"/console/launches/{id_of(launch)}", f"新品宣传已保存{waiting}")


def _launch_page(request: Request, member: Member, launch_id: int, *, error: str | None = None,
                 status_code: int = 200) -> HTMLResponse:
    allowed(member, access.EVERYONE)
    runtime = get_runtime()
    try:
        launch, product = runtime.unit_of_work(launches.get_launch, launch_id)
    except NotFound as missing:
        return render(request, "error.html", member, status_code=404, message=str(missing))
    plan = runtime.unit_of_work(launches.plan_of, launch_id)
    previews = runtime.unit_of_work(launches.previews, launch_id, public_numbers=runtime.settings.public_numbers)
    return render(
        request, "launch.html", member, status_code=status_code, launch=launch, product=product, plan=plan,
        previews=previews, approvals=APPROVAL_NAMES, sources=SOURCE_NAMES, kinds=KIND_NAMES, post_states=POST_STATES,
        may_publish=member.may(access.PUBLISHERS), error=error, done=request.query_params.get("done"),
        card=texts.launch_card(launch, product), targets=targets(),
        d=_deliveries(launch_id), interest=runtime.unit_of_work(launches.interest_counts, launch_id),
        interest_names=INTEREST_NAMES)


def _deliveries(launch_id: int) -> dict[str, Any]:
    return delivery_board(get_runtime().unit_of_work(launches.deliveries, launch_id),
                          f"/console/launches/{launch_id}/deliveries")


@router.get("/launches/{launch_id}", response_class=HTMLResponse)
def launch_page(request: Request, member: MemberDep, launch_id: int) -> HTMLResponse:
    return _launch_page(request, member, launch_id)


@router.get("/launches/{launch_id}/deliveries", response_class=HTMLResponse)
def deliveries(request: Request, member: MemberDep, launch_id: int) -> HTMLResponse:
    allowed(member, access.EVERYONE)
    try:
        found = _deliveries(launch_id)
    except NotFound as missing:
        return render(request, "error.html", member, status_code=404, message=str(missing))
    return render(request, "_supply_deliveries.html", member, d=found)


def _refused(request: Request, member: Member, launch_id: int, refused: ServiceError) -> HTMLResponse:
    status_code = (404 if isinstance(refused, NotFound) else 409 if isinstance(refused, Conflict)
                   else 413 if isinstance(refused, TooLarge) else 422)
    return _launch_page(request, member, launch_id, error=str(refused), status_code=status_code)


@router.post("/launches/{launch_id}/approval", response_model=None)
def decide(request: Request, member: FormMemberDep, launch_id: int, decision: Typed = "", confirm: Typed = ""
           ) -> HTMLResponse | RedirectResponse:
    """Approve a manufacturer's publicity (its posts go out at their times) or reject it (they never will)."""
    allowed(member, access.PUBLISHERS)
    if decision not in ("approve", "reject"):
        return _launch_page(request, member, launch_id, error="请选择批准或驳回", status_code=422)
    if confirm != "1":
        return _launch_page(request, member, launch_id, error="请勾选确认后再提交", status_code=422)
    runtime = get_runtime()
    try:
        runtime.unit_of_work(launches.decide, launch_id, approve=decision == "approve", staff_id=id_of(member.staff),
                             now=runtime.clock.now())
    except ServiceError as refused:
        return _refused(request, member, launch_id, refused)
    return back_to(f"/console/launches/{launch_id}",
                   "已批准，宣传将按计划发出" if decision == "approve" else "已驳回，宣传不会发出")


@router.post("/launches/{launch_id}/edit", response_model=None)
def edit(request: Request, member: FormMemberDep, launch_id: int, districts: Cells, group_ids: Cells,
         launch_date: Typed = "", selling_points: Typed = "", spec: Typed = "", manufacturer: Typed = "",
         wholesale_price: Typed = "", retail_price: Typed = "") -> HTMLResponse | RedirectResponse:
    """Correct the card (launch date, selling points, the product's spec, maker and prices) and the targets,
    for the posts not sent yet."""
    allowed(member, access.PUBLISHERS)
    try:
        changes = {"launch_date": day(launch_date, "上市日期"),
                   "selling_points": _text(selling_points, "卖点", 500, required=True),
                   **target_fields(districts, group_ids)}
        product = {"spec": _text(spec, "规格", 64), "manufacturer": _text(manufacturer, "厂家", 64),
                   "wholesale_price": _price(wholesale_price, "批发价", 100_000),
                   "retail_price": _price(retail_price, "零售价", 10_000)}
        get_runtime().unit_of_work(launches.update_launch, launch_id, changes, product)
    except ServiceError as refused:
        return _refused(request, member, launch_id, refused)
    return back_to(f"/console/launches/{launch_id}", "已修改，之后发出的宣传按新内容")


@router.post("/launches/{launch_id}/image", response_model=None)
def replace_image(request: Request, member: FormMemberDep, launch_id: int,
                  image: Annotated[UploadFile | None, File()] = None) -> HTMLResponse | RedirectResponse:
    """A new picture for the posts not sent yet."""
    allowed(member, access.PUBLISHERS)
    picture = _picture(image)
    if picture is None:
        return _launch_page(request, member, launch_id, error="请选择要上传的图片", status_code=422)
    runtime = get_runtime()
    try:
        runtime.unit_of_work(launches.attach_image, launch_id, picture, base_url=runtime.settings.console_url,
                             staff_id=member.staff.id, now=runtime.clock.now())
    except ServiceError as refused:
        return _refused(request, member, launch_id, refused)
    return back_to(f"/console/launches/{launch_id}", "图片已更换")


@router.get("/media/{name}")
def picture(name: str) -> Response:
    """An uploaded picture, for the QQ client that posts it and the console that shows it. No sign-in: the
    client fetching it has none, and its name (the picture's SHA-256) cannot be guessed."""
    try:
        found = get_runtime().unit_of_work(media.image_named, name)
    except NotFound as missing:
        return Response(str(missing), status_code=404, media_type="text/plain; charset=utf-8")
    return Response(found.data, media_type=found.content_type,
                    headers={"Cache-Control": "public, max-age=31536000, immutable",
                             "X-Content-Type-Options": "nosniff"})


@router.post("/launches/{launch_id}/plan", response_model=None)
def replan(request: Request, member: FormMemberDep, launch_id: int, kind: Cells, send_at: Cells, note: Cells,
           confirm: Typed = "") -> HTMLResponse | RedirectResponse:
    """Replace the posts not sent yet; no row with a time cancels them all."""
    allowed(member, access.PUBLISHERS)
    if confirm != "1":
        return _launch_page(request, member, launch_id, error="请勾选确认后再提交", status_code=422)
    runtime = get_runtime()
    try:
        posts = _plan(kind, send_at, note)
        runtime.unit_of_work(launches.set_plan, launch_id, posts, now=runtime.clock.now())
    except ServiceError as refused:
        return _refused(request, member, launch_id, refused)
    return back_to(f"/console/launches/{launch_id}",
                   f"宣传计划已更新：{len(posts)} 条待发送" if posts else "未发送的宣传已全部取消")
