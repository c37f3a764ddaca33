"""Retailers, staff, chat groups and the binding of chat accounts to licences."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, bindparam, insert, or_, update
from sqlmodel import Session, SQLModel, col, func, select

from bot import texts
from bot.db import Prepared
from bot.models import (
    BindAttempt,
    BindHint,
    ChatBinding,
    ChatGroup,
    Retailer,
    RetailerChange,
    StaffMember,
    id_of,
    table_of,
)
from bot.policy import Policies
from bot.services import lookups, pledges
from bot.services.errors import Conflict, NotFound, ServiceError

HISTORY_FIELDS = ("grade", "manager_id")

MAX_BIND_FAILURES_PER_DAY = 5


def get_or_404(session: Session, model: type[SQLModel], row_id: int, label: str) -> Any:
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"{label} {row_id} 不存在")
    return row


def apply_changes(row: SQLModel, changes: dict[str, Any], now: datetime | None = None) -> None:
    for field, value in changes.items():
        setattr(row, field, value)
    if now is not None and hasattr(row, "updated_at"):
        row.updated_at = now


def list_rows(session: Session, model: type[SQLModel]) -> list[Any]:
    return list(session.exec(select(model).order_by(*table_of(model).primary_key)))


def update_group(session: Session, group_pk: int, changes: dict[str, Any]) -> ChatGroup:
    group: ChatGroup = get_or_404(session, ChatGroup, group_pk, "群")
    apply_changes(group, changes)
    session.add(group)
    lookups.changed(session, lookups.GROUP)
    return group


@dataclass(frozen=True)
class RetailerFilter:
    """What a directory search asks for; `q` finds a licence number, store or owner."""

    q: str | None = None
    district: str | None = None
    manager_id: int | None = None
    grade: int | None = None
    active: bool | None = None


def search_retailers(session: Session, flt: RetailerFilter, *, offset: int = 0, limit: int | None,
                     visible: ColumnElement[bool] | None = None,
                     owner_visible: ColumnElement[bool] | None = None) -> tuple[int, list[Retailer]]:
    """`visible` keeps what the caller may see (`access.retailers_visible`); `owner_visible` the rows whose
    owner the caller may see, the only ones an owner's name can find (or an agent could probe names)."""
    conditions = [] if visible is None else [visible]
    if flt.district:
        conditions.append(col(Retailer.district) == flt.district)
    if flt.manager_id is not None:
        conditions.append(col(Retailer.manager_id) == flt.manager_id)
    if flt.grade is not None:
        conditions.append(col(Retailer.grade) == flt.grade)
    if flt.active is not None:
        conditions.append(col(Retailer.active) == flt.active)
    if flt.q:
        owner = col(Retailer.owner_name).contains(flt.q)
        conditions.append(or_(col(Retailer.store_name).contains(flt.q), col(Retailer.license_no).contains(flt.q),
                              owner if owner_visible is None else and_(owner, owner_visible)))
    total = session.exec(select(func.count()).select_from(Retailer).where(*conditions)).one()
    query = select(Retailer).where(*conditions).order_by(col(Retailer.id)).offset(offset)
    rows = session.exec(query if limit is None else query.limit(limit)).all()
    return total, list(rows)


def districts(session: Session, visible: ColumnElement[bool] | None = None) -> list[str]:
    """The districts the retailers (those the caller may see) are in, for a search's choices."""
    query = select(Retailer.district).where(col(Retailer.district).is_not(None)).distinct()
    if visible is not None:
        query = query.where(visible)
    return sorted(name for name in session.exec(query) if name)


EXPORT_COLUMNS = {  # Chinese headers, so an export can be imported again as it is
    "license_no": "许可证号", "customer_code": "客户编码", "store_name": "客户名称",
    "owner_name": "经营者", "phone": "联系电话", "address": "经营地址", "business_type": "业态",
    "grade": "档位", "manager_id": "客户经理", "ordering_day": "订货日", "delivery_day": "送货日",
    "visit_cycle": "拜访周期", "district": "市场部",
}


def export_rows(session: Session, flt: RetailerFilter, *, visible: ColumnElement[bool] | None = None
                ) -> list[list[Any]]:
    """The filtered directory as spreadsheet rows, header first; managers by work number. (`visible` keeps
    the rows seen in full, so the owner may be searched in all of them.)"""
    _, retailers = search_retailers(session, flt, limit=None, visible=visible)
    names = {member.id: member.work_no or member.name for member in list_rows(session, StaffMember)}
    rows = [[names.get(r.manager_id, "") if key == "manager_id" else (getattr(r, key) or "")
             for key in EXPORT_COLUMNS] for r in retailers]
    return [list(EXPORT_COLUMNS.values()), *rows]


def create_retailer(session: Session, data: dict[str, Any], *, now: datetime) -> Retailer:
    if session.exec(select(Retailer.id).where(col(Retailer.license_no) == data["license_no"])).first():
        raise Conflict(f"许可证号 {data['license_no']} 已存在")
    _check_manager(session, data.get("manager_id"))
    retailer = Retailer(**data, created_at=now, updated_at=now)
    session.add(retailer)
    session.flush()
    return retailer


def update_retailer(session: Session, retailer_id: int, changes: dict[str, Any], *,
                    now: datetime, policies: Policies, tz: ZoneInfo, staff_id: int | None = None) -> Retailer:
    retailer = get_or_404(session, Retailer, retailer_id, "零售客户")
    _record_history(session, retailer, changes, source="api", staff_id=staff_id, now=now)
    moved = "manager_id" in changes and changes["manager_id"] != retailer.manager_id
    new_license = changes.get("license_no")
    if new_license and new_license != retailer.license_no and session.exec(
        select(Retailer.id).where(col(Retailer.license_no) == new_license)
    ).first():
        raise Conflict(f"许可证号 {new_license} 已存在")
    _check_manager(session, changes.get("manager_id"))
    apply_changes(retailer, changes, now)
    session.add(retailer)
    if moved:
        pledges.move_visits(session, [retailer.id], retailer.manager_id, now=now, policies=policies, tz=tz)
    return retailer


def _record_history(session: Session, retailer: Retailer, changes: dict[str, Any], *, source: str,
                    staff_id: int | None, now: datetime) -> None:
    for field in HISTORY_FIELDS:
        if field in changes and changes[field] != getattr(retailer, field):
            old, new = getattr(retailer, field), changes[field]
            session.add(RetailerChange(
                retailer_id=id_of(retailer), field=field, source=source, changed_by_staff_id=staff_id,
                old_value=None if old is None else str(old), new_value=None if new is None else str(new),
                changed_at=now))


@dataclass(frozen=True)
class ImportWrites:
    """What a checked directory import changes (worked out by `retailer_import`), as table rows."""

    inserts: list[dict[str, Any]]
    updates: list[dict[str, Any]]  # each with its "retailer_pk"
    history: list[dict[str, Any]]
    absent: list[int]  # retailers a full import marks inactive
    moved: dict[int, int | None]  # retailer -> their new account manager
    compared: tuple[str, ...]  # the columns an update sets


def write_import(session: Session, writes: ImportWrites, *, now: datetime, policies: Policies,
                 tz: ZoneInfo) -> None:
    """Write an import in a few statements however many rows it has; open visits follow a retailer
    whose account manager changed, and the new manager is told."""
    retailers, connection = table_of(Retailer), session.connection()
    if writes.inserts:
        connection.execute(insert(retailers), writes.inserts)
    if writes.updates:
        connection.execute(update(retailers).where(retailers.c.id == bindparam("retailer_pk"))
                           .values({name: bindparam(name) for name in (*writes.compared, "updated_at")}),
                           writes.updates)
    if writes.history:
        connection.execute(insert(table_of(RetailerChange)), writes.history)
    if writes.absent:
        connection.execute(update(retailers).where(retailers.c.id == bindparam("retailer_pk"))
                           .values(active=False, updated_at=now),
                           [{"retailer_pk": retailer_id} for retailer_id in writes.absent])
    by_manager: dict[int | None, list[int]] = {}
    for retailer_id, manager_id in writes.moved.items():
        by_manager.setdefault(manager_id, []).append(retailer_id)
    for manager_id, retailer_ids in by_manager.items():
        pledges.move_visits(session, retailer_ids, manager_id, now=now, policies=policies, tz=tz)


def transfer_territory(session: Session, *, from_manager_id: int, to_manager_id: int,
                       district: str | None, retailer_ids: list[int] | None, staff_id: int,
                       now: datetime, policies: Policies, tz: ZoneInfo) -> tuple[int, int]:
    """Move a manager's retailers (all, one district's, or the listed ones) to another manager."""
    if from_manager_id == to_manager_id:
        raise ServiceError("移出和接收的客户经理是同一人：请选择另一位客户经理接收")
    _check_manager(session, to_manager_id)
    query = select(Retailer).where(col(Retailer.manager_id) == from_manager_id)
    if district:
        query = query.where(col(Retailer.district) == district)
    if retailer_ids is not None:
        query = query.where(col(Retailer.id).in_(retailer_ids))
    retailers = list(session.exec(query))
    for retailer in retailers:
        _record_history(session, retailer, {"manager_id": to_manager_id}, source="transfer",
                        staff_id=staff_id, now=now)
        retailer.manager_id, retailer.updated_at = to_manager_id, now
        session.add(retailer)
    session.flush()
    visits = pledges.move_visits(session, [id_of(retailer) for retailer in retailers], to_manager_id, now=now,
                                 policies=policies, tz=tz)
    return len(retailers), visits


def history_of(session: Session, retailer_id: int) -> list[RetailerChange]:
    return list(session.exec(select(RetailerChange).where(col(RetailerChange.retailer_id) == retailer_id)
                             .order_by(col(RetailerChange.id))))


def _check_manager(session: Session, manager_id: int | None) -> None:
    if manager_id is None:
        return
    manager = session.get(StaffMember, manager_id)
    if manager is None or "manager" not in manager.roles:
        raise ServiceError(f"员工 {manager_id} 不是客户经理")


_SET_GROUP_BOT = (update(table_of(ChatGroup)).where(table_of(ChatGroup).c.id == bindparam("group_pk"))
                  .values(bot_id=bindparam("bot_id")))


def set_group_account(session: Session, group: lookups.GroupRow, bot_id: str) -> None:
    """The bot account a group's messages arrive through is the one to answer it through (intake's hot
    path: a statement built once). This process keeps the group with its new account rather than reading
    every group again: in a group two accounts are in, the account changes with every message."""
    session.connection().execute(_SET_GROUP_BOT, {"group_pk": group.id, "bot_id": bot_id})
    lookups.changed(session, lookups.GROUP,
                    one=((group.platform, group.group_id), lambda row: row._replace(bot_id=bot_id)))


def create_group(session: Session, data: dict[str, Any], *, now: datetime) -> ChatGroup:
    platform, group_id = data.get("platform", "qq"), data["group_id"]
    if session.exec(select(ChatGroup.id).where(col(ChatGroup.platform) == platform,
                                               col(ChatGroup.group_id) == group_id)).first():
        raise Conflict(f"群 {group_id} 已登记")
    group = ChatGroup(**data, created_at=now)
    session.add(group)
    session.flush()
    lookups.changed(session, lookups.GROUP)
    return group


# -- binding a chat account to a licence -------------------------------------------------

class BindResult(StrEnum):
    BOUND = "bound"
    MISMATCH = "mismatch"
    LOCKED = "locked"
    TAKEN = "taken"
    ALREADY = "already"


@dataclass(frozen=True)
class BindOutcome:
    result: BindResult
    store_name: str | None = None


def _binding_of(session: Session, platform: str, chat_user_id: str) -> ChatBinding | None:
    return session.exec(select(ChatBinding).where(col(ChatBinding.platform) == platform,
                                                  col(ChatBinding.chat_user_id) == chat_user_id)).first()


def _digits(phone: str | None) -> str:
    return re.sub(r"\D", "", phone or "")


def self_bind(session: Session, *, platform: str, chat_user_id: str, license_no: str,
              phone_last4: str, now: datetime, tz: ZoneInfo) -> BindOutcome:
    """A retailer binds their own account. A miss never says which part was wrong."""
    day = now.astimezone(tz).date().isoformat()
    attempt = session.exec(select(BindAttempt).where(
        col(BindAttempt.platform) == platform, col(BindAttempt.chat_user_id) == chat_user_id,
        col(BindAttempt.day) == day)).first()
    if attempt is not None and attempt.failures >= MAX_BIND_FAILURES_PER_DAY:
        return BindOutcome(BindResult.LOCKED)

    existing = _binding_of(session, platform, chat_user_id)
    retailer = session.exec(select(Retailer).where(col(Retailer.license_no) == license_no.strip(),
                                                   Retailer.active)).first()
    phone = _digits(retailer.phone if retailer else None)
    if retailer is not None and len(phone) >= 4 and phone[-4:] == phone_last4.strip():
        if existing is not None:
            same = existing.retailer_id == retailer.id
            return BindOutcome(BindResult.ALREADY if same else BindResult.TAKEN, retailer.store_name)
        session.add(ChatBinding(platform=platform, chat_user_id=chat_user_id,
                                retailer_id=id_of(retailer), bound_at=now))
        lookups.changed(session, lookups.BINDING)
        return BindOutcome(BindResult.BOUND, retailer.store_name)

    attempt = attempt or BindAttempt(platform=platform, chat_user_id=chat_user_id, day=day)
    attempt.failures += 1
    session.add(attempt)
    if attempt.failures >= MAX_BIND_FAILURES_PER_DAY:
        return BindOutcome(BindResult.LOCKED)
    return BindOutcome(BindResult.MISMATCH)


# intake's hot path: every unbound sender's first request of a day
_INSERT_HINT = Prepared(insert(table_of(BindHint)))
_UPDATE_HINT = Prepared(update(table_of(BindHint)).where(table_of(BindHint).c.id == bindparam("hint_id"))
                        .values(day=bindparam("day")))


def note_bind_hint(session: Session, platform: str, chat_user_id: str, day: str, *, hint_id: int | None) -> None:
    """Remember the day an unbound sender was told how to bind."""
    if hint_id is None:
        _INSERT_HINT.execute(session, {"platform": platform, "chat_user_id": chat_user_id, "day": day})
    else:
        _UPDATE_HINT.execute(session, {"hint_id": hint_id, "day": day})


def self_unbind(session: Session, *, platform: str, chat_user_id: str) -> bool:
    binding = _binding_of(session, platform, chat_user_id)
    if binding is None:
        return False
    session.delete(binding)
    lookups.changed(session, lookups.BINDING)
    return True


def staff_bind(session: Session, retailer_id: int, *, platform: str, chat_user_id: str,
               staff: StaffMember, now: datetime) -> ChatBinding:
    get_or_404(session, Retailer, retailer_id, "零售客户")
    existing = _binding_of(session, platform, chat_user_id)
    if existing is not None:
        if existing.retailer_id == retailer_id:
            return existing
        raise Conflict(f"聊天账号 {chat_user_id} 已绑定其他许可证，请先解绑")
    binding = ChatBinding(platform=platform, chat_user_id=chat_user_id, retailer_id=retailer_id,
                          bound_by_staff_id=staff.id, bound_at=now)
    session.add(binding)
    session.flush()
    lookups.changed(session, lookups.BINDING)
    return binding


def bindings_of(session: Session, retailer_id: int) -> list[ChatBinding]:
    get_or_404(session, Retailer, retailer_id, "零售客户")
    return list(session.exec(select(ChatBinding).where(col(ChatBinding.retailer_id) == retailer_id)
                             .order_by(col(ChatBinding.id))))


def staff_unbind(session: Session, retailer_id: int, binding_id: int) -> None:
    binding = session.get(ChatBinding, binding_id)
    if binding is None or binding.retailer_id != retailer_id:
        raise NotFound(f"绑定 {binding_id} 不存在")
    session.delete(binding)
    lookups.changed(session, lookups.BINDING)


def retailer_card(session: Session, retailer_id: int) -> dict[str, Any] | None:
    """What a retailer may be told about themselves (their card, personal answers)."""
    retailer = session.get(Retailer, retailer_id)
    if retailer is None:
        return None
    manager = session.get(StaffMember, retailer.manager_id) if retailer.manager_id else None
    return {"store_name": retailer.store_name, "license_no": retailer.license_no, "grade": retailer.grade,
            "ordering_day": retailer.ordering_day, "delivery_day": retailer.delivery_day,
            "manager_name": manager.name if manager else None,
            "manager_work_no": manager.work_no if manager else None}


def my_card(session: Session, *, platform: str, chat_user_id: str) -> str:
    """The bound retailer's own card, for their private chat only."""
    binding = _binding_of(session, platform, chat_user_id)
    card = retailer_card(session, binding.retailer_id) if binding else None
    return texts.my_card(**card) if card else texts.MY_CARD_UNBOUND
