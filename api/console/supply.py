"""The supply notice pages (货源信息): the list by state, the editor with its item table typed or uploaded,
the preview of exactly what each group will read, publishing, correcting and withdrawing behind a
confirmation, and each group's delivery watched as it goes out. Every rule is `supply`'s, as for the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.web import FormMemberDep, Member, MemberDep, allowed, back_to, render
from bot.models import ChatGroup, NoticeState, Product, SupplyItem, SupplyNotice, id_of
from bot.runtime import get_runtime
from bot.services import access, broadcast, products, spreadsheets, supply
from bot.services.errors import Conflict, NotFound, ServiceError
from bot.services.spreadsheets import TableError

router = APIRouter()
STATE_NAMES = {NoticeState.DRAFT: "草稿", NoticeState.SCHEDULED: "定时发布", NoticeState.PUBLISHED: "已发布",
               NoticeState.CORRECTED: "已更正", NoticeState.WITHDRAWN: "已撤回"}
DELIVERY_NAMES = {"sent": "已发送", "pending": "等待发送", "retrying": "重试中", "failed": "发送失败",
                  "cancelled": "已取消"}
PURPOSE_NAMES = {"notice": "通知", "correction": "更正", "withdrawal": "撤回", "publicity": "宣传"}
INTEREST_NAMES = {"asked": "询问", "want": "想订", "not_interested": "不感兴趣"}
DEFAULT_BANDS = ["1-10", "11-20", "21-30"]
SPARE_ROWS = 3  # blank rows under the items, to type new products into
SPARE_BANDS = 1  # a blank band column, for a grade range the table does not have yet
SHOWN = 50
SUGGESTIONS = 8


@dataclass
class Grid:
    """The item table as the editor shows it: band headings, and per row GRID_COLUMNS then cartons."""

    bands: list[str]
    rows: list[list[str]]
    problems: list[supply.RowProblem] = field(default_factory=list)


def _plain(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}"


def _grid_of(items: list[tuple[SupplyItem, Product]]) -> Grid:
    ranges = sorted({(band["min_grade"], band["max_grade"]) for item, _ in items for band in item.quotas})
    bands = [f"{low}-{high}" for low, high in ranges] or list(DEFAULT_BANDS)
    rows = []
    for item, product in items:
        cartons = {(band["min_grade"], band["max_grade"]): str(band["cartons"]) for band in item.quotas}
        rows.append([product.name, _plain(product.wholesale_price), _plain(product.retail_price),
                     "是" if item.scarce else "否", item.note or "", *(cartons.get(r, "") for r in ranges)])
    return _padded(Grid(bands, rows))


def _padded(grid: Grid) -> Grid:
    """Room to add: a spare band column and a few blank rows. The rows posted stay where they were, so a
    problem's row number still points at its row."""
    spare = SPARE_BANDS - sum(1 for band in grid.bands[-SPARE_BANDS:] if not band.strip())
    bands = grid.bands + [""] * max(spare, 0)
    width = len(supply.GRID_COLUMNS) + len(bands)
    blank = ["否" if column == "紧俏" else "" for column in supply.GRID_COLUMNS] + [""] * len(bands)
    rows = [row + [""] * (width - len(row)) for row in grid.rows]
    trailing = 0
    scarce = supply.GRID_COLUMNS.index("紧俏")  # 否 by default: not typed in
    while trailing < len(rows) and not any(cell.strip() for number, cell in enumerate(rows[-1 - trailing])
                                           if number != scarce):
        trailing += 1
    return Grid(bands, rows + [list(blank) for _ in range(max(SPARE_ROWS - trailing, 0))], grid.problems)


Cells = Annotated[list[str], Form(default_factory=list)]


def _typed_grid(band: Cells, product: Cells, wholesale_price: Cells, retail_price: Cells, scarce: Cells,
                note: Cells, cartons: Cells) -> Grid:
    """The item table as posted: the form's cells, row by row (cartons row-major under the bands)."""
    count, width = len(product), len(band)
    if not (len(wholesale_price) == len(retail_price) == len(scarce) == len(note) == count
            and len(cartons) == count * width):
        return Grid([], [], [supply.RowProblem(0, "品规表不完整，请刷新页面后重新填写")])
    rows = [[product[i], wholesale_price[i], retail_price[i], scarce[i], note[i], *cartons[i * width:(i + 1) * width]]
            for i in range(count)]
    return Grid(band, rows)


GridDep = Annotated[Grid, Depends(_typed_grid)]


def _read_grid(grid: Grid) -> supply.ItemTable:
    """The table's items, or its problems (kept on the grid, to show beside its rows)."""
    if not grid.problems:
        table = supply.grid_item_table(grid.bands, grid.rows)  # blank rows are skipped, and counted
        grid.problems = table.problems
        return table
    return supply.ItemTable(problems=grid.problems)


# -- the form's fields ------------------------------------------------------------------------

def day(text: str, label: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ServiceError(f"请填写{label}（年-月-日）") from None


def moment(text: str, label: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ServiceError(f"请填写{label}（日期和时间）") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=get_runtime().settings.tz)


def _notes(text: str) -> str | None:
    if len(text) > 2000:
        raise ServiceError("备注最多 2000 个字")
    return text.strip() or None


def _notice_fields(form: dict[str, Any]) -> dict[str, Any]:
    """The notice's own fields from the form, checked, in the service's terms."""
    title = form["title"].strip()
    if not title or len(title) > 128:
        raise ServiceError("标题必填，最多 128 个字")
    return {"title": title, "period_start": day(form["period_start"], "供货周期的开始日期"),
            "period_end": day(form["period_end"], "供货周期的结束日期"),
            "order_opens_at": moment(form["order_opens_at"], "订货开始时间"),
            "order_closes_at": moment(form["order_closes_at"], "订货截止时间"),
            "notes": _notes(form["notes"]), **target_fields(form["districts"], form["group_ids"])}


def target_fields(districts: list[str], group_ids: list[str]) -> dict[str, list]:
    """The chosen districts and groups, as a notice or launch stores them."""
    try:
        groups = sorted({int(value) for value in group_ids})
    except ValueError:
        raise ServiceError("目标群无效，请刷新页面后重新选择") from None
    return {"districts": sorted({value.strip() for value in districts if value.strip()}), "group_ids": groups}


Typed = Annotated[str, Form()]


def _typed(districts: Cells, group_ids: Cells, title: Typed = "", period_start: Typed = "",
           period_end: Typed = "", order_opens_at: Typed = "", order_closes_at: Typed = "", notes: Typed = ""
           ) -> dict[str, Any]:
    """The notice's fields as typed (the form's, or a notice's to start from), kept to show again."""
    return {"title": title, "period_start": period_start, "period_end": period_end,
            "order_opens_at": order_opens_at, "order_closes_at": order_closes_at, "notes": notes,
            "districts": districts, "group_ids": group_ids}


def _typed_from(notice: SupplyNotice) -> dict[str, Any]:
    tz = get_runtime().settings.tz
    return _typed(list(notice.districts), [str(group_id) for group_id in notice.group_ids], notice.title,
                  notice.period_start.isoformat(), notice.period_end.isoformat(),
                  f"{notice.order_opens_at.astimezone(tz):%Y-%m-%dT%H:%M}",
                  f"{notice.order_closes_at.astimezone(tz):%Y-%m-%dT%H:%M}", notice.notes or "")


def targets() -> tuple[list[ChatGroup], list[str]]:
    """The active groups and their districts, to pick a broadcast's targets from."""
    groups = get_runtime().unit_of_work(broadcast.target_groups, [], [])
    return groups, sorted({group.district for group in groups if group.district})


# -- pages ------------------------------------------------------------------------------------

@router.get("/supply", response_class=HTMLResponse)
def list_page(request: Request, member: MemberDep, state: str = "", page: int = 1) -> HTMLResponse:
    allowed(member, access.EVERYONE)
    chosen = state if state in STATE_NAMES else None
    page = max(page, 1)
    notices = get_runtime().unit_of_work(supply.list_notices, state=chosen, offset=(page - 1) * SHOWN, limit=SHOWN + 1)
    return render(request, "supply_list.html", member, notices=notices[:SHOWN], more=len(notices) > SHOWN,
                  page=page, state=chosen or "", states=STATE_NAMES, done=request.query_params.get("done"))


def _new_form(request: Request, member: Member, typed: dict[str, Any], *, error: str | None = None,
              status_code: int = 200) -> HTMLResponse:
    groups, districts = targets()
    return render(request, "supply_new.html", member, status_code=status_code, typed=typed, groups=groups,
                  districts=districts, error=error)


@router.get("/supply/new", response_class=HTMLResponse)
def new_page(request: Request, member: MemberDep) -> HTMLResponse:
    allowed(member, access.PUBLISHERS)
    return _new_form(request, member, _typed([], []))


TypedDep = Annotated[dict[str, Any], Depends(_typed)]


@router.post("/supply", response_model=None)
def create(request: Request, member: FormMemberDep, typed: TypedDep) -> HTMLResponse | RedirectResponse:
    allowed(member, access.PUBLISHERS)
    runtime = get_runtime()
    try:
        notice = runtime.unit_of_work(supply.create_notice, _notice_fields(typed), [], staff_id=member.staff.id,
                                      now=runtime.clock.now())
    except ServiceError as refused:
        return _new_form(request, member, typed, error=str(refused), status_code=422)
    return back_to(f"/console/supply/{id_of(notice)}", "草稿已保存，请填写品规表")


@router.get("/supply/template.{format}")
def template(member: MemberDep, format: str) -> Response:
    """The item table to fill in, as the upload reads it."""
    allowed(member, access.EVERYONE)
    if format not in spreadsheets.MEDIA_TYPES:
        return Response("只有 xlsx 和 csv 两种模板", status_code=404, media_type="text/plain; charset=utf-8")
    return Response(supply.template(format), media_type=spreadsheets.MEDIA_TYPES[format],
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote('品规表')}.{format}"})


@router.get("/supply/products", response_class=HTMLResponse)
def suggestions(request: Request, member: MemberDep, product: str = "", name: str = "") -> HTMLResponse:
    """Catalogue products for the product box being typed in (an item row's `product`, a launch's `name`):
    by characters, pinyin or initials."""
    allowed(member, access.PUBLISHERS)
    typed = (product or name)[:64]
    found = get_runtime().unit_of_work(products.list_products, q=typed, limit=SUGGESTIONS)
    return render(request, "_product_suggestions.html", member, found=found, q=typed)


def _notice_page(request: Request, member: Member, notice_id: int, *, error: str | None = None,
                 status_code: int = 200, grid: Grid | None = None, typed: dict[str, Any] | None = None,
                 upload: list[supply.RowProblem] | None = None, correction: broadcast.Preview | None = None,
                 correction_typed: dict[str, Any] | None = None) -> HTMLResponse:
    """The notice page; after a refused form, `error` says why and what was typed is kept."""
    allowed(member, access.EVERYONE)
    runtime = get_runtime()
    try:
        notice, items = runtime.unit_of_work(supply.get_notice, notice_id)
    except NotFound as missing:
        return render(request, "error.html", member, status_code=404, message=str(missing))
    preview = runtime.unit_of_work(supply.preview, notice_id, tz=runtime.settings.tz,
                                   public_numbers=runtime.settings.public_numbers)
    groups, districts = targets()
    return render(
        request, "supply_notice.html", member, status_code=status_code, notice=notice, items=items,
        state_names=STATE_NAMES, preview=preview, error=error, done=request.query_params.get("done"),
        grid=_padded(grid) if grid else _grid_of(items), typed=typed or _typed_from(notice),
        correction_typed=_typed_from(notice) | (correction_typed or {}), upload=upload, correction=correction,
        groups=groups, districts=districts, may_publish=member.may(access.PUBLISHERS), fields_open=typed is not None,
        editable=notice.state in supply.EDITABLE, live=notice.state in supply.LIVE,
        deliveries=_deliveries(notice_id), interest=runtime.unit_of_work(supply.interest_counts, notice_id),
        interest_names=INTEREST_NAMES)


def delivery_board(rows: list[broadcast.DeliveryStatus], url: str) -> dict[str, Any]:
    """Each group's delivery with a tally by status; `moving` while anything is still to go out, and the
    page's section asks `url` again until then (shared with the launch pages)."""
    counts = {status: sum(1 for row in rows if row.status == status) for status in DELIVERY_NAMES}
    return {"rows": rows, "counts": counts, "moving": bool(counts["pending"] or counts["retrying"]),
            "names": DELIVERY_NAMES, "purposes": PURPOSE_NAMES, "url": url}


def _deliveries(notice_id: int) -> dict[str, Any]:
    return delivery_board(get_runtime().unit_of_work(supply.deliveries, notice_id),
                          f"/console/supply/{notice_id}/deliveries")


@router.get("/supply/{notice_id}", response_class=HTMLResponse)
def notice_page(request: Request, member: MemberDep, notice_id: int) -> HTMLResponse:
    return _notice_page(request, member, notice_id)


@router.get("/supply/{notice_id}/deliveries", response_class=HTMLResponse)
def deliveries(request: Request, member: MemberDep, notice_id: int) -> HTMLResponse:
    """Each group's delivery; the page asks again every few seconds while anything is still going out."""
    allowed(member, access.EVERYONE)
    try:
        found = _deliveries(notice_id)
    except NotFound as missing:
        return render(request, "error.html", member, status_code=404, message=str(missing))
    return render(request, "_supply_deliveries.html", member, d=found)


@router.post("/supply/{notice_id}", response_model=None)
def update(request: Request, member: FormMemberDep, notice_id: int, typed: TypedDep
           ) -> HTMLResponse | RedirectResponse:
    allowed(member, access.PUBLISHERS)
    runtime = get_runtime()
    try:
        runtime.unit_of_work(supply.update_notice, notice_id, _notice_fields(typed), now=runtime.clock.now())
    except ServiceError as refused:
        return _refused(request, member, notice_id, refused, typed=typed)
    return back_to(f"/console/supply/{notice_id}", "已保存")


def _refused(request: Request, member: Member, notice_id: int, refused: ServiceError, **kept: Any) -> HTMLResponse:
    status_code = 404 if isinstance(refused, NotFound) else 409 if isinstance(refused, Conflict) else 422
    return _notice_page(request, member, notice_id, error=str(refused), status_code=status_code, **kept)


# -- the item table ---------------------------------------------------------------------------

@router.post("/supply/{notice_id}/items/check", response_class=HTMLResponse)
def check_items(request: Request, member: FormMemberDep, grid: GridDep) -> HTMLResponse:
    """The table's problems as it is typed (overlapping bands, a word for a number), saving nothing."""
    allowed(member, access.PUBLISHERS)
    return render(request, "_supply_problems.html", member, table=_read_grid(grid), in_grid=True)


@router.post("/supply/{notice_id}/items", response_model=None)
def save_items(request: Request, member: FormMemberDep, notice_id: int, grid: GridDep
               ) -> HTMLResponse | RedirectResponse:
    """The whole table at once: every row right, or nothing changes and each bad row is named."""
    allowed(member, access.PUBLISHERS)
    table = _read_grid(grid)
    if table.problems:
        return _notice_page(request, member, notice_id, status_code=422, grid=grid,
                            error=f"品规表未保存：{len(table.problems)} 处错误，请修改后再保存")
    runtime = get_runtime()
    try:
        runtime.unit_of_work(supply.set_items, notice_id, table.items, now=runtime.clock.now())
    except ServiceError as refused:
        return _refused(request, member, notice_id, refused, grid=grid)
    return back_to(f"/console/supply/{notice_id}", f"品规表已保存：{len(table.items)} 个品规")


@router.post("/supply/{notice_id}/items/upload", response_model=None)
def upload_items(request: Request, member: FormMemberDep, notice_id: int,
                 file: Annotated[UploadFile | None, File()] = None) -> HTMLResponse | RedirectResponse:
    """The item table from an XLSX or CSV: all of it, or nothing and a report of every bad row."""
    allowed(member, access.PUBLISHERS)
    if file is None or not file.filename:
        return _notice_page(request, member, notice_id, error="请选择要上传的 XLSX 或 CSV 文件", status_code=422)
    runtime = get_runtime()
    try:
        table = supply.parse_item_table(file.file.read(supply.ITEM_TABLE_LIMITS.bytes + 1), file.filename)
    except TableError as unreadable:
        return _notice_page(request, member, notice_id, error=str(unreadable),
                            status_code=413 if isinstance(unreadable, spreadsheets.TableTooLarge) else 422)
    if table.problems:
        return _notice_page(request, member, notice_id, upload=table.problems, status_code=422,
                            error=f"{file.filename} 未导入：{len(table.problems)} 处错误，品规表没有任何改动")
    try:
        runtime.unit_of_work(supply.set_items, notice_id, table.items, now=runtime.clock.now())
    except ServiceError as refused:
        return _refused(request, member, notice_id, refused)
    return back_to(f"/console/supply/{notice_id}", f"已从 {file.filename} 导入 {len(table.items)} 个品规")


# -- publishing, each confirmed ---------------------------------------------------------------

def _unconfirmed(request: Request, member: Member, notice_id: int, confirm: str, previewed: str | None = None
                 ) -> HTMLResponse | None:
    """A refusal unless the box was ticked and, when a preview was shown, it is still what would go out."""
    if confirm != "1":
        return _notice_page(request, member, notice_id, error="请勾选确认后再提交", status_code=422)
    if previewed is not None:
        runtime = get_runtime()
        current = runtime.unit_of_work(supply.preview, notice_id, tz=runtime.settings.tz,
                                       public_numbers=runtime.settings.public_numbers)
        if current.fingerprint != previewed:
            return _notice_page(request, member, notice_id, status_code=409,
                                error="通知内容在预览后有改动，请看过下面的最新预览后再确认")
    return None


@router.post("/supply/{notice_id}/publish", response_model=None)
def publish(request: Request, member: FormMemberDep, notice_id: int, confirm: Annotated[str, Form()] = "",
            previewed: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    allowed(member, access.PUBLISHERS)
    if refusal := _unconfirmed(request, member, notice_id, confirm, previewed):
        return refusal
    runtime = get_runtime()
    try:
        runtime.unit_of_work(supply.publish, notice_id, now=runtime.clock.now(), tz=runtime.settings.tz)
    except ServiceError as refused:
        return _refused(request, member, notice_id, refused)
    return back_to(f"/console/supply/{notice_id}", "已发布，正在发往各群")


@router.post("/supply/{notice_id}/schedule", response_model=None)
def schedule(request: Request, member: FormMemberDep, notice_id: int, publish_at: Annotated[str, Form()] = "",
             confirm: Annotated[str, Form()] = "", previewed: Annotated[str, Form()] = ""
             ) -> HTMLResponse | RedirectResponse:
    allowed(member, access.PUBLISHERS)
    if refusal := _unconfirmed(request, member, notice_id, confirm, previewed):
        return refusal
    runtime = get_runtime()
    try:
        at = moment(publish_at, "定时发布的时间")
        runtime.unit_of_work(supply.schedule, notice_id, at, now=runtime.clock.now())
    except ServiceError as refused:
        return _refused(request, member, notice_id, refused)
    return back_to(f"/console/supply/{notice_id}", f"将于 {at:%m-%d %H:%M} 自动发布")


@router.post("/supply/{notice_id}/correction", response_model=None)
def correct(request: Request, member: FormMemberDep, notice_id: int, grid: GridDep,
            order_opens_at: Annotated[str, Form()] = "", order_closes_at: Annotated[str, Form()] = "",
            notes: Annotated[str, Form()] = "", preview: Annotated[str, Form()] = "",
            confirm: Annotated[str, Form()] = "", previewed: Annotated[str, Form()] = ""
            ) -> HTMLResponse | RedirectResponse:
    """预览更正 shows the 【货源信息更正】 that would go out; 发布更正 (ticked, the very text previewed) sends it."""
    allowed(member, access.PUBLISHERS)
    runtime = get_runtime()
    typed = {"order_opens_at": order_opens_at, "order_closes_at": order_closes_at, "notes": notes}
    try:
        table = _read_grid(grid)
        if table.problems:
            raise ServiceError(f"品规表有 {len(table.problems)} 处错误，请修改后再预览更正")
        changes = {"order_opens_at": moment(order_opens_at, "订货开始时间"),
                   "order_closes_at": moment(order_closes_at, "订货截止时间"), "notes": _notes(notes)}
        shown = runtime.unit_of_work(supply.correction_preview, notice_id, changes, table.items,
                                     tz=runtime.settings.tz, public_numbers=runtime.settings.public_numbers)
    except ServiceError as refused:
        return _refused(request, member, notice_id, refused, grid=grid, correction_typed=typed)
    if preview or confirm != "1" or previewed != shown.fingerprint:
        asked = not preview
        return _notice_page(request, member, notice_id, correction=shown, grid=grid, correction_typed=typed,
                            status_code=409 if asked else 200,
                            error="更正内容与预览不同，请看过下面最新的更正预览后再确认" if asked else None)
    try:
        runtime.unit_of_work(supply.correct, notice_id, changes, table.items, now=runtime.clock.now(),
                             tz=runtime.settings.tz)
    except ServiceError as refused:
        return _refused(request, member, notice_id, refused, grid=grid, correction_typed=typed)
    return back_to(f"/console/supply/{notice_id}", "更正已发布，正在发往各群")


@router.post("/supply/{notice_id}/withdraw", response_model=None)
def withdraw(request: Request, member: FormMemberDep, notice_id: int, reason: Annotated[str, Form()] = "",
             confirm: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    allowed(member, access.PUBLISHERS)
    if refusal := _unconfirmed(request, member, notice_id, confirm):
        return refusal
    if len(reason) > 200:
        return _notice_page(request, member, notice_id, error="撤回原因最多 200 个字", status_code=422)
    runtime = get_runtime()
    try:
        runtime.unit_of_work(supply.withdraw, notice_id, reason.strip() or None, now=runtime.clock.now())
    except ServiceError as refused:
        return _refused(request, member, notice_id, refused)
    return back_to(f"/console/supply/{notice_id}", "已撤回")
