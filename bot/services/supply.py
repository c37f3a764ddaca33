"""Supply notices (货源信息): a period's products and quotas by grade, broadcast on time.

A notice is a draft until staff schedule or publish it. Published, it goes to
its target groups through the outbox; a correction publishes a short 更正
naming what changed; a withdrawal stops what has not gone out and, if some
groups already have it, tells them. Retailers' questions about it are answered
from the retailer's own grade (see `bot.services.inquiries`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import cast
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import update
from sqlmodel import Session, col, select

from bot import texts
from bot.fields import Body, Price
from bot.models import ChatGroup, NoticeState, Product, SupplyItem, SupplyNotice, id_of
from bot.services import broadcast, interest, products
from bot.services.errors import Conflict, NotFound, ServiceError
from bot.services.spreadsheets import Limits, read_rows, write_table

SUBJECT = "supply"
MAX_GRADE = 99
EDITABLE = (NoticeState.DRAFT, NoticeState.SCHEDULED)
LIVE = (NoticeState.PUBLISHED, NoticeState.CORRECTED)
MAX_ITEMS = 300
# An item table is a few hundred products by a few grade ranges; anything far bigger is refused unread.
ITEM_TABLE_LIMITS = Limits(bytes=5 * 1024 * 1024, unpacked=64 * 1024 * 1024, rows=1_000, columns=100,
                           cells=100_000)


class QuotaBand(Body):
    """Grades `min_grade` to `max_grade` (inclusive) may order `cartons` cartons; 0 means none."""

    min_grade: int = Field(ge=1, le=MAX_GRADE)
    max_grade: int = Field(ge=1, le=MAX_GRADE)
    cartons: int = Field(ge=0, le=10_000)

    @model_validator(mode="after")
    def _ordered(self) -> QuotaBand:
        if self.min_grade > self.max_grade:
            raise ValueError(f"档位范围 {self.min_grade}-{self.max_grade} 起点大于终点")
        return self


class ItemIn(Body):
    """One row of a notice's item table."""

    model_config = ConfigDict(str_strip_whitespace=True)
    nullable = frozenset({"wholesale_price", "retail_price", "price_class", "note"})

    product: str = Field(min_length=1, max_length=64, description="品规名称，如 中华(软)")
    wholesale_price: Price | None = Field(None, le=100_000, description="批发价（元/条）")
    retail_price: Price | None = Field(None, le=10_000, description="建议零售价（元/包）")
    price_class: str | None = Field(None, pattern="^[ABCD]$")
    scarce: bool = False
    quotas: list[QuotaBand] = Field(min_length=1)
    note: str | None = Field(None, max_length=128)

    @model_validator(mode="after")
    def _no_overlap(self) -> ItemIn:
        bands = sorted(self.quotas, key=lambda band: band.min_grade)
        for before, after in pairwise(bands):
            if after.min_grade <= before.max_grade:
                raise ValueError(f"档位范围 {before.min_grade}-{before.max_grade} 与 "
                                 f"{after.min_grade}-{after.max_grade} 重叠")
        return self


def quota_for(grade: int | None, quotas: list[dict[str, int]]) -> int | None:
    """Cartons a retailer of `grade` may order; None when no band covers the grade."""
    if grade is None:
        return None
    for band in quotas:
        if band["min_grade"] <= grade <= band["max_grade"]:
            return band["cartons"]
    return None


# -- writing notices -----------------------------------------------------------------------

def _notice(session: Session, notice_id: int) -> SupplyNotice:
    notice = session.get(SupplyNotice, notice_id)
    if notice is None:
        raise NotFound(f"货源通知 {notice_id} 不存在")
    return notice


def _check_window(data: dict) -> None:
    if data["period_end"] < data["period_start"]:
        raise ServiceError("货源周期的结束日期早于开始日期")
    if data["order_closes_at"] <= data["order_opens_at"]:
        raise ServiceError("订货截止时间必须晚于开始时间")


def _check_groups(session: Session, group_ids: list[int]) -> None:
    known = set(session.exec(select(ChatGroup.id).where(col(ChatGroup.id).in_(group_ids))))
    if missing := sorted(set(group_ids) - known):
        raise ServiceError(f"目标群不存在：{missing}")


def create_notice(session: Session, data: dict, items: list[ItemIn], *, staff_id: int | None,
                  now: datetime) -> SupplyNotice:
    _check_window(data)
    _check_groups(session, data.get("group_ids", []))
    notice = SupplyNotice(**data, state=NoticeState.DRAFT, created_by_staff_id=staff_id,
                          created_at=now, updated_at=now)
    session.add(notice)
    session.flush()
    if items:
        set_items(session, id_of(notice), items, now=now)
    return notice


def update_notice(session: Session, notice_id: int, changes: dict, *, now: datetime) -> SupplyNotice:
    """Edit a draft or scheduled notice; a published one is changed by a correction."""
    notice = _notice(session, notice_id)
    if notice.state not in EDITABLE:
        raise Conflict("已发布的通知不能直接修改，请使用「更正」")
    merged = {key: getattr(notice, key) for key in ("period_start", "period_end", "order_opens_at",
                                                    "order_closes_at")} | changes
    _check_window(merged)
    _check_groups(session, changes.get("group_ids", []))
    for key, value in changes.items():
        setattr(notice, key, value)
    notice.updated_at = now
    session.add(notice)
    return notice


def _check_items(items: list[ItemIn]) -> None:
    if len(items) > MAX_ITEMS:
        raise ServiceError(f"一份通知最多 {MAX_ITEMS} 个品规")
    names = [item.product for item in items]
    if duplicates := sorted({name for name in names if names.count(name) > 1}):
        raise ServiceError(f"品规重复：{'、'.join(duplicates)}")


def _write_items(session: Session, notice_id: int, items: list[ItemIn], now: datetime) -> None:
    _check_items(items)
    for old in session.exec(select(SupplyItem).where(col(SupplyItem.notice_id) == notice_id)):
        session.delete(old)
    session.flush()
    for position, item in enumerate(items):
        known = {key: value for key in ("wholesale_price", "retail_price", "price_class")
                 if (value := getattr(item, key)) is not None}
        product = products.get_or_create(session, item.product, now=now)
        products.update_product(session, id_of(product), known)  # this notice's prices are the current ones
        session.add(SupplyItem(notice_id=notice_id, product_id=id_of(product), position=position,
                               quotas=[band.model_dump() for band in item.quotas], scarce=item.scarce,
                               note=item.note))
    session.flush()


def set_items(session: Session, notice_id: int, items: list[ItemIn], *, now: datetime) -> SupplyNotice:
    """Replace a draft's item table as a whole."""
    notice = _notice(session, notice_id)
    if notice.state not in EDITABLE:
        raise Conflict("已发布的通知不能直接修改，请使用「更正」")
    _write_items(session, notice_id, items, now)
    notice.updated_at = now
    session.add(notice)
    return notice


def items_of(session: Session, notice_id: int) -> list[tuple[SupplyItem, Product]]:
    return list(session.exec(
        select(SupplyItem, Product).join(Product, col(Product.id) == SupplyItem.product_id)
        .where(col(SupplyItem.notice_id) == notice_id).order_by(col(SupplyItem.position))).all())


# -- the item table from a spreadsheet --------------------------------------------------------

_HEADERS = {"product": ("品规", "品名", "卷烟名称", "产品", "规格名称"),
            "wholesale_price": ("批发价", "批发价元条", "批发价格"),
            "retail_price": ("零售价", "建议零售价", "建议零售价元包", "零售指导价"),
            "price_class": ("价类", "价位段", "类别"),
            "scarce": ("紧俏", "是否紧俏", "紧俏品牌"),
            "note": ("备注", "说明")}
_HEADER_FIELD = {alias: name for name, aliases in _HEADERS.items() for alias in aliases}
_BAND_HEADER = re.compile(r"^(\d{1,2})\s*(?:档)?\s*[-~～—至到]\s*(\d{1,2})\s*档?$|^(\d{1,2})\s*档$")
_YES = {"是", "Y", "y", "yes", "1", "√", "紧俏", "TRUE", "true"}
_NO = {"", "否", "N", "n", "no", "0", "FALSE", "false"}


@dataclass
class RowProblem:
    row: int
    message: str


@dataclass
class ItemTable:
    items: list[ItemIn] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


def _band(header: str) -> tuple[int, int] | None:
    match = _BAND_HEADER.match(header)
    if not match:
        return None
    low, high, single = match.groups()
    return (int(single), int(single)) if single else (int(low), int(high))


def parse_item_table(content: bytes, filename: str = "") -> ItemTable:
    """Items from a CSV or workbook: one row per product, one column per grade range (如 11-20档).

    Every row is checked and every problem reported; the caller writes nothing if there is one.
    A file over ITEM_TABLE_LIMITS, or no table at all, raises spreadsheets.TableError."""
    return item_table(read_rows(content, filename, ITEM_TABLE_LIMITS))


GRID_COLUMNS = ("品规", "批发价", "零售价", "紧俏", "备注")


def grid_item_table(bands: list[str], rows: list[list[str]]) -> ItemTable:
    """Items from the console's table: GRID_COLUMNS then one cell per band (如 11-20), read by the very
    rules an uploaded file is. A blank band heading is a spare column, to be left empty."""
    table = ItemTable()
    used = {index: _band(band.strip()) for index, band in enumerate(bands) if band.strip()}
    table.problems += [RowProblem(1, f"档位「{bands[index].strip()}」应写成 1-10 这样的范围")
                       for index, found in used.items() if found is None]
    if any(cells[len(GRID_COLUMNS) + index].strip() for cells in rows for index, band in enumerate(bands)
           if not band.strip() and len(GRID_COLUMNS) + index < len(cells)):
        table.problems.append(RowProblem(1, "有限量填在了没有档位的列里，请先填写该列的档位"))
    if table.problems:
        return table
    header = [*GRID_COLUMNS, *(f"{found[0]}-{found[1]}档" for found in used.values() if found)]
    scarce = GRID_COLUMNS.index("紧俏")
    kept = [[*cells[:len(GRID_COLUMNS)], *(cells[len(GRID_COLUMNS) + index] for index in used)] for cells in rows]
    # a row left blank but for its 紧俏 choice (否 by default) is an empty row, skipped like one
    kept = [[] if not any(cell.strip() for number, cell in enumerate(cells) if number != scarce) else cells
            for cells in kept]
    return item_table(iter([header, *kept]))


_LABELS = {"product": "品规", "wholesale_price": "批发价", "retail_price": "零售价", "price_class": "价类",
           "note": "备注", "quotas": "限量", "cartons": "限量"}


def _in_words(error: ValidationError) -> str:
    """A row's validation errors as the person who typed it reads them."""
    said = []
    for problem in error.errors():
        label = next((_LABELS[part] for part in reversed(problem["loc"]) if part in _LABELS), "")
        limits = problem.get("ctx") or {}
        said.append({
            "value_error": problem["msg"].removeprefix("Value error, "),
            "less_than_equal": f"{label}不能大于 {limits.get('le')}",
            "greater_than_equal": f"{label}不能小于 {limits.get('ge')}",
            "string_too_long": f"{label}最多 {limits.get('max_length')} 个字",
            "string_pattern_mismatch": f"{label}只能是 A、B、C、D",
            "decimal_max_places": f"{label}最多两位小数",
            "decimal_max_digits": f"{label}数字太大",
        }.get(problem["type"], f"{label}：{problem['msg']}"))
    return "；".join(said)


def _overlaps(bands: dict[int, tuple[int, int]]) -> list[str]:
    ordered = sorted(bands.values())
    return [f"档位列 {low}-{high}档 与 {next_low}-{next_high}档 重叠"
            for (low, high), (next_low, next_high) in pairwise(ordered) if next_low <= high]


def item_table(rows: Iterator[list[str]]) -> ItemTable:
    """The rules of an item table, whether it came from a file or the console: a header row, then
    one row per product; every bad row is named with what is wrong."""
    table = ItemTable()
    header = next(rows, None)
    if header is None:
        table.problems.append(RowProblem(1, "文件是空的"))
        return table
    fields: dict[int, str] = {}
    bands: dict[int, tuple[int, int]] = {}
    for index, cell in enumerate(header):
        name = re.sub(r"[\s()（）*/]", "", cell).replace("元条", "").replace("元包", "")
        if (band := _band(cell.strip())) is not None:
            bands[index] = band
        elif (known := _HEADER_FIELD.get(name) or _HEADER_FIELD.get(cell.strip())) is not None:
            fields[index] = known
    if "product" not in fields.values():
        table.problems.append(RowProblem(1, "表头缺少「品规」列"))
    if not bands:
        table.problems.append(RowProblem(1, "表头缺少档位列，例如「1-10档」「11-20档」"))
    table.problems += [RowProblem(1, message) for message in _overlaps(bands)]
    if table.problems:
        return table
    for number, cells in enumerate(rows, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if number > MAX_ITEMS + 1:
            table.problems.append(RowProblem(number, f"超过 {MAX_ITEMS} 个品规"))
            break
        values = {name: cells[index].strip() for index, name in fields.items() if index < len(cells)}
        problems = [] if values.get("product") else ["「品规」没有填写"]
        scarce = values.pop("scarce", "")
        if scarce not in _YES | _NO:
            problems.append(f"「紧俏」填写“是”或“否”，不是“{scarce}”")
        quotas = []
        for index, (low, high) in bands.items():
            text = cells[index].strip() if index < len(cells) else ""
            text = re.sub(r"条$", "", text)
            if text in ("", "-", "—", "/", "不供", "无"):
                text = "0"
            if not text.isdigit():
                problems.append(f"{header[index]} 的限量应是条数，不是“{cells[index]}”")
                continue
            quotas.append({"min_grade": low, "max_grade": high, "cartons": int(text)})
        for key, label in (("wholesale_price", "批发价"), ("retail_price", "零售价")):
            if values.get(key):
                try:
                    values[key] = str(Decimal(values[key].replace("元", "")))
                except InvalidOperation:
                    problems.append(f"{label}不是数字：“{values[key]}”")
        if problems:
            table.problems.append(RowProblem(number, "；".join(problems)))
            continue
        cleaned = {key: value for key, value in values.items() if value}
        try:
            table.items.append(ItemIn(**cleaned, scarce=scarce in _YES, quotas=quotas))
        except ValidationError as error:
            table.problems.append(RowProblem(number, _in_words(error)))
    names = [item.product for item in table.items]
    for name in sorted({name for name in names if names.count(name) > 1}):
        table.problems.append(RowProblem(0, f"品规重复：{name}"))
    return table


def template(format: str) -> bytes:
    """The item table to fill in (XLSX or CSV): the headings the upload reads and one example row."""
    rows = [["品规", "批发价(元/条)", "建议零售价(元/包)", "紧俏", "备注", "1-10档", "11-20档", "21-30档"],
            ["中华(软)", "450", "65", "是", "", "不供", "1", "2"]]
    return write_table(rows, format, title="品规表")


# -- publishing ------------------------------------------------------------------------------

def schedule(session: Session, notice_id: int, publish_at: datetime, *, now: datetime) -> SupplyNotice:
    notice = _notice(session, notice_id)
    if notice.state not in EDITABLE:
        raise Conflict(f"通知当前状态为 {notice.state}，不能定时发布")
    if publish_at <= now:
        raise ServiceError("定时发布的时间必须晚于现在；立即发布请使用「发布」")
    if not items_of(session, notice_id):
        raise ServiceError("通知还没有品规，不能发布")
    notice.state, notice.publish_at, notice.updated_at = NoticeState.SCHEDULED, publish_at, now
    session.add(notice)
    return notice


def publish(session: Session, notice_id: int, *, now: datetime, tz: ZoneInfo) -> SupplyNotice:
    """Send the notice to its groups now. Claimed with a conditional update: once, whoever calls."""
    notice = _notice(session, notice_id)
    if notice.state not in EDITABLE:
        raise Conflict(f"通知当前状态为 {notice.state}，不能发布")
    items = items_of(session, notice_id)
    if not items:
        raise ServiceError("通知还没有品规，不能发布")
    claimed = session.exec(
        update(SupplyNotice)
        .where(col(SupplyNotice.id) == notice_id, col(SupplyNotice.state).in_(EDITABLE))
        .values(state=NoticeState.PUBLISHED, published_at=now, updated_at=now)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise Conflict("通知已被发布或撤回")
    session.refresh(notice)
    broadcast.send(session, subject=SUBJECT, subject_id=id_of(notice), purpose="notice", revision=0,
                   text=texts.supply_notice(notice, items, tz), now=now,
                   groups=broadcast.target_groups(session, notice.districts, notice.group_ids))
    return notice


def publish_due(session: Session, *, now: datetime, tz: ZoneInfo) -> list[int]:
    """Publish scheduled notices whose time has come (the scheduler's sweep calls this)."""
    due = session.exec(select(col(SupplyNotice.id)).where(
        col(SupplyNotice.state) == NoticeState.SCHEDULED, col(SupplyNotice.publish_at) <= now)).all()
    published: list[int] = []
    for notice_id in cast(Sequence[int], due):  # primary keys are never NULL
        try:  # both refusals come before any write
            publish(session, notice_id, now=now, tz=tz)
        except (Conflict, ServiceError):
            continue  # another instance took it, or it was emptied meanwhile
        published.append(notice_id)
    return published


def _snapshot(notice: SupplyNotice, items: list[tuple[SupplyItem, Product]]) -> dict:
    return {"title": notice.title, "period": (notice.period_start, notice.period_end),
            "window": (notice.order_opens_at, notice.order_closes_at), "notes": notice.notes,
            "items": {product.name: (item.quotas, item.scarce) for item, product in items}}


def correction(session: Session, notice_id: int, changes: dict, items: list[ItemIn] | None, *,
               tz: ZoneInfo) -> str:
    """The 【货源信息更正】 that correcting a published notice so would send, naming what changes;
    nothing is written (the console previews it, `correct` sends it)."""
    notice = _notice(session, notice_id)
    if notice.state not in LIVE:
        raise Conflict("只有已发布的通知可以更正")
    merged = {key: getattr(notice, key) for key in ("period_start", "period_end", "order_opens_at",
                                                    "order_closes_at", "notes", "title")} | changes
    _check_window(merged)
    before = _snapshot(notice, items_of(session, notice_id))
    if items is not None:
        _check_items(items)
    after = {"title": merged["title"], "period": (merged["period_start"], merged["period_end"]),
             "window": (merged["order_opens_at"], merged["order_closes_at"]), "notes": merged["notes"],
             "items": before["items"] if items is None else
             {item.product: ([band.model_dump() for band in item.quotas], item.scarce) for item in items}}
    lines = texts.supply_changes(before, after, tz)
    if not lines:
        raise ServiceError("没有任何改动，不需要更正")
    return texts.supply_correction(notice.title, lines)  # named as the groups first read it


def correction_preview(session: Session, notice_id: int, changes: dict, items: list[ItemIn] | None, *,
                       tz: ZoneInfo, public_numbers: Collection[str]) -> broadcast.Preview:
    """The correction's parts as the notice's groups will read them."""
    text = correction(session, notice_id, changes, items, tz=tz)
    notice = _notice(session, notice_id)
    return broadcast.preview(session, text, notice.districts, notice.group_ids, public_numbers)


def correct(session: Session, notice_id: int, changes: dict, items: list[ItemIn] | None, *,
            now: datetime, tz: ZoneInfo) -> SupplyNotice:
    """Change a published notice and tell its groups, in a short 更正, exactly what changed."""
    text = correction(session, notice_id, changes, items, tz=tz)
    notice = _notice(session, notice_id)
    for key, value in changes.items():
        setattr(notice, key, value)
    if items is not None:
        _write_items(session, notice_id, items, now)
    notice.state, notice.revision, notice.updated_at = NoticeState.CORRECTED, notice.revision + 1, now
    session.add(notice)
    broadcast.send(session, subject=SUBJECT, subject_id=id_of(notice), purpose="correction",
                   revision=notice.revision, text=text, now=now,
                   groups=broadcast.target_groups(session, notice.districts, notice.group_ids))
    return notice


def withdraw(session: Session, notice_id: int, reason: str | None, *, now: datetime) -> SupplyNotice:
    """Stop a notice. What has not gone out is cancelled; groups that already have it are told."""
    notice = _notice(session, notice_id)
    if notice.state == NoticeState.WITHDRAWN:
        raise Conflict("通知已撤回")
    was_live = notice.state in LIVE
    notice.state, notice.withdrawn_at, notice.updated_at = NoticeState.WITHDRAWN, now, now
    session.add(notice)
    if not was_live:
        return notice
    broadcast.cancel_unsent(session, subject=SUBJECT, subject_id=id_of(notice))
    if broadcast.was_sent_anywhere(session, subject=SUBJECT, subject_id=id_of(notice)):
        text = texts.supply_withdrawal(notice.title, reason)
        groups = broadcast.target_groups(session, notice.districts, notice.group_ids)
        broadcast.send(session, subject=SUBJECT, subject_id=id_of(notice), purpose="withdrawal",
                       revision=notice.revision, text=text, now=now, groups=groups)
    return notice


# -- reading ---------------------------------------------------------------------------------

def get_notice(session: Session, notice_id: int) -> tuple[SupplyNotice, list[tuple[SupplyItem, Product]]]:
    return _notice(session, notice_id), items_of(session, notice_id)


def preview(session: Session, notice_id: int, *, tz: ZoneInfo, public_numbers: Collection[str]
            ) -> broadcast.Preview:
    """What publishing the notice now would post: its parts as each target group will read them."""
    notice, items = get_notice(session, notice_id)
    text = texts.supply_notice(notice, items, tz) if items else ""
    return broadcast.preview(session, text, notice.districts, notice.group_ids, public_numbers)


def deliveries(session: Session, notice_id: int) -> list[broadcast.DeliveryStatus]:
    _notice(session, notice_id)
    return broadcast.deliveries(session, subject=SUBJECT, subject_id=notice_id)


def interest_counts(session: Session, notice_id: int) -> list[dict]:
    _notice(session, notice_id)
    return interest.interest_counts(session, subject=SUBJECT, subject_id=notice_id)


def list_notices(session: Session, *, state: str | None, offset: int, limit: int) -> list[SupplyNotice]:
    query = select(SupplyNotice).order_by(col(SupplyNotice.id).desc()).offset(offset).limit(limit)
    if state:
        query = query.where(col(SupplyNotice.state) == state)
    return list(session.exec(query))


def current_notice(session: Session, *, group: broadcast.Audience | None, district: str | None, today: date,
                   asker_groups: Sequence[broadcast.Audience] = ()) -> SupplyNotice | None:
    """The newest live notice still running that reaches this group (or, in private, this district, or
    without a district the groups the asker posts in)."""
    live = session.exec(
        select(SupplyNotice).where(col(SupplyNotice.state).in_(LIVE), col(SupplyNotice.period_end) >= today)
        .order_by(col(SupplyNotice.published_at).desc(), col(SupplyNotice.id).desc())).all()
    for notice in live:
        if group is not None and broadcast.reaches(group, notice.districts, notice.group_ids):
            return notice
        if group is None and broadcast.reaches_privately(notice.districts, notice.group_ids, district=district,
                                                         groups=asker_groups):
            return notice
    return None


# -- words -----------------------------------------------------------------------------------


def quota_reply(notice: SupplyNotice, items: list[tuple[SupplyItem, Product]], grade: int | None,
                named: list[Product], tz: ZoneInfo) -> str:
    """A retailer's own quotas under a notice, for every product or the ones they named."""
    wanted = {id_of(product) for product in named}
    quotas = [(product.name, item.scarce, quota_for(grade, item.quotas)) for item, product in items
              if not wanted or id_of(product) in wanted]
    return texts.supply_quota(notice, grade, quotas, tz)
