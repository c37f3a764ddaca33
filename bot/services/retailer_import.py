"""Loading the district's customer export (XLSX or CSV) into the retailer directory.

Every row is validated before anything is written, and the whole file is
reported; one bad row and nothing changes. Rows upsert by licence number. A
full import marks retailers absent from the file inactive (never deleted).
Grade and account-manager changes are kept as history.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot.models import DirectoryAlias, Retailer, Role, StaffMember, id_of, table_of
from bot.policy import DirectoryPolicy, Policies, business_type_key
from bot.services import directory
from bot.services.directory import HISTORY_FIELDS
from bot.services.errors import Conflict, NotFound, ServiceError
from bot.services.spreadsheets import TableError, read_rows

# Canonical field -> the headers staff exports use for it (compared without spaces and brackets).
HEADERS: dict[str, tuple[str, ...]] = {
    "license_no": ("许可证号", "许可证编号", "专卖许可证号", "零售许可证号", "烟草专卖零售许可证号", "许可证"),
    "customer_code": ("客户编码", "客户代码", "客户编号"),
    "store_name": ("客户名称", "店名", "店铺名称", "商店名称", "门店名称", "零售户名称", "店铺名"),
    "owner_name": ("经营者", "负责人", "经营者姓名", "业主", "法人", "经营人"),
    "phone": ("联系电话", "手机", "手机号", "手机号码", "电话", "联系方式", "电话号码"),
    "address": ("经营地址", "地址", "店铺地址", "经营场所"),
    "business_type": ("业态", "经营业态", "业态类型"),
    "grade": ("档位", "档级", "客户档位", "客户档级"),
    "manager": ("客户经理", "客户经理姓名", "所属客户经理", "客户经理工号"),
    "ordering_day": ("订货日", "订货周期", "订货时间"),
    "delivery_day": ("送货日", "配送周期", "送货周期", "送货时间", "配送日"),
    "visit_cycle": ("拜访周期",),
    "district": ("市场部", "片区", "区营销部", "营销部", "所属片区", "区域"),
}
REQUIRED = ("license_no", "store_name")
LABELS = {name: aliases[0] for name, aliases in HEADERS.items()}
_LICENSE = re.compile(r"^[0-9A-Za-z]{6,32}$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}$")
_LENGTHS = {"customer_code": 32, "store_name": 128, "owner_name": 64, "address": 256,
            "ordering_day": 64, "delivery_day": 64, "visit_cycle": 64, "district": 64}


@dataclass
class RowError:
    row: int
    column: str
    message: str


@dataclass
class Change:
    license_no: str
    action: str  # create, update
    fields: list[str]
    store_name: str = ""  # as the file names it, for a person reading the report


@dataclass
class ImportReport:
    dry_run: bool
    full: bool
    applied: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    errors: list[RowError] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DirectoryFile:
    """A customer export read and checked row by row, without the database (so it can be
    done off the event loop); account managers are resolved when it is applied."""

    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    retailers: dict[str, dict[str, Any]] = field(default_factory=dict)  # licence -> values
    lines: dict[str, int] = field(default_factory=dict)  # licence -> row number in the file
    managers: dict[int, str] = field(default_factory=dict)  # row number -> 客户经理 as written


# -- validating ----------------------------------------------------------------------------

@dataclass
class _Managers:
    by_name: dict[str, list[int]]
    by_work_no: dict[str, int]
    names: dict[int, str]

    @classmethod
    def load(cls, session: Session) -> _Managers:
        by_name: dict[str, list[int]] = {}
        by_work_no, names = {}, {}
        for staff in session.exec(select(StaffMember).where(StaffMember.active)):
            if Role.MANAGER not in staff.roles:
                continue
            staff_id = id_of(staff)
            by_name.setdefault(staff.name, []).append(staff_id)
            names[staff_id] = staff.name
            if staff.work_no:
                by_work_no[staff.work_no] = staff_id
        return cls(by_name, by_work_no, names)

    def resolve(self, value: str) -> tuple[int | None, str | None]:
        if value in self.by_work_no:
            return self.by_work_no[value], None
        matches = self.by_name.get(value, [])
        if len(matches) == 1:
            return matches[0], None
        if matches:
            return None, f"有 {len(matches)} 位客户经理叫「{value}」，请改填工号"
        return None, f"客户经理「{value}」不在员工名单中"


def header_key(title: str) -> str:
    """A header as the import compares it: without spaces, brackets or a BOM."""
    return re.sub(r"[\s()（）*]", "", title.lstrip("\ufeff"))


def _validate_row(cells: dict[str, str], business_types: dict[str, str]
                  ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for name, raw in cells.items():
        if name == "license_no":
            if not raw:
                problems.append((name, "缺少许可证号"))
            elif not _LICENSE.match(raw):
                problems.append((name, f"许可证号「{raw}」格式不对：应为 6 到 32 位数字或字母"))
            values[name] = raw
        elif name == "store_name":
            if not raw:
                problems.append((name, "缺少客户名称"))
            values[name] = raw[:128]
        elif name == "grade":
            number = re.sub(r"(档|级)$", "", raw)
            try:
                grade = int(float(number)) if number else None
            except ValueError:
                grade = None
                problems.append((name, f"档位「{raw}」不是数字"))
            else:
                if grade is not None and not 1 <= grade <= 30:
                    problems.append((name, f"档位 {grade} 超出 1 到 30"))
            values[name] = grade
        elif name == "phone":
            digits = re.sub(r"[\s\-()（）]", "", raw).removeprefix("+86")
            if digits and not (_MOBILE.match(digits) or _LANDLINE.match(digits)):
                problems.append((name, f"电话「{raw}」格式不对：应为 11 位手机号或带区号的座机"))
            values[name] = digits or None
        elif name == "business_type":
            canonical = business_types.get(business_type_key(raw)) if raw else None
            if raw and canonical is None:
                choices = "、".join(dict.fromkeys(business_types.values()))
                problems.append((name, f"未知业态「{raw}」，可选：{choices}"))
            values[name] = canonical
        elif name == "manager":
            values[name] = raw
        else:
            if len(raw) > _LENGTHS[name]:
                problems.append((name, f"内容过长（最多 {_LENGTHS[name]} 字）"))
            values[name] = raw or None
    return values, problems


def read_directory(content: bytes, filename: str, policy: DirectoryPolicy) -> DirectoryFile:
    """Read and check every row of a customer export; raises TableError if it is no table at all."""
    return _parse(read_rows(content, filename), policy)


def _parse(rows: Iterable[list[str]], policy: DirectoryPolicy) -> DirectoryFile:
    table = DirectoryFile()
    rows = iter(rows)
    header: list[str] | None = None
    for header_cells in rows:
        if any(header_cells):
            header = header_cells
            break
    if header is None:
        raise TableError("文件是空的：第一行应为表头（许可证号、客户名称……）")
    aliases = {header_key(alias): name for name, names in HEADERS.items() for alias in names}
    aliases |= {header_key(alias): name for name, names in policy.header_aliases.items() for alias in names}
    business_types = policy.business_type_names()
    columns: dict[int, str] = {}
    for index, title in enumerate(header):
        key = aliases.get(header_key(title))
        if key is None or key in columns.values():
            if title:
                table.unknown_columns.append(title)
            continue
        columns[index] = key
    missing = [LABELS[name] for name in REQUIRED if name not in columns.values()]
    if missing:
        table.errors.append(RowError(1, "表头", f"缺少必需的列：{'、'.join(missing)}"))
        return table

    for number, cells in enumerate(rows, start=2):
        if not any(cells):
            continue
        table.rows += 1
        values, problems = _validate_row(
            {name: cells[index] if index < len(cells) else "" for index, name in columns.items()},
            business_types)
        if values.get("manager"):
            table.managers[number] = values["manager"]
        license_no: str = values.get("license_no") or ""  # a row without one has a problem
        if license_no and license_no in table.lines:
            problems.append(("license_no", f"许可证号 {license_no} 与第 {table.lines[license_no]} 行重复"))
        for column, message in problems:
            table.errors.append(RowError(number, LABELS[column], message))
        if not problems:
            table.lines[license_no] = number
            table.retailers[license_no] = values
    return table


def _resolve_managers(session: Session, table: DirectoryFile, errors: list[RowError]
                      ) -> dict[str, dict[str, Any]]:
    managers = _Managers.load(session)
    found = {raw: managers.resolve(raw) for raw in set(table.managers.values())}
    for number, raw in table.managers.items():
        if problem := found[raw][1]:
            errors.append(RowError(number, LABELS["manager"], problem))
    errors.sort(key=lambda error: error.row)
    resolved = {}
    for license_no, values in table.retailers.items():
        if "manager" in values:
            values = dict(values)
            raw = values.pop("manager")
            values["manager_id"] = found[raw][0] if raw else None
        resolved[license_no] = values
    return resolved


# -- applying ------------------------------------------------------------------------------

_COMPARED = ("customer_code", "store_name", "owner_name", "phone", "address", "district", "grade",
             "business_type", "manager_id", "ordering_day", "delivery_day", "visit_cycle", "active")


def import_retailers(session: Session, content: bytes, filename: str = "", *, policies: Policies, tz: ZoneInfo,
                     dry_run: bool, full: bool, staff_id: int | None, now: datetime) -> ImportReport:
    """Read, check and apply a customer export in one go (the command line does this)."""
    policy = import_policy(session, policies.directory)
    return apply_directory(session, read_directory(content, filename, policy), dry_run=dry_run,
                           full=full, staff_id=staff_id, now=now, policies=policies, tz=tz)


def apply_directory(session: Session, table: DirectoryFile, *, dry_run: bool, full: bool,
                    staff_id: int | None, now: datetime, policies: Policies, tz: ZoneInfo) -> ImportReport:
    """Work out the upsert of a checked file by licence number, all rows or none, and have the directory
    write it; the report says what changed."""
    report = ImportReport(dry_run=dry_run, full=full, rows=table.rows, errors=list(table.errors),
                          unknown_columns=table.unknown_columns)
    parsed = _resolve_managers(session, table, report.errors)
    if report.errors:
        return report

    retailers = table_of(Retailer)
    existing = {row.license_no: row for row in session.connection().execute(
        select(retailers.c.id, retailers.c.license_no, *(retailers.c[name] for name in _COMPARED)))}
    inserts, updates, history = [], [], []
    moved: dict[int, int | None] = {}  # retailer -> new account manager: their open visits follow
    for license_no, values in parsed.items():
        values = {**values, "active": True}
        current = existing.get(license_no)
        if current is None:
            report.created += 1
            report.changes.append(Change(license_no, "create", sorted(values), values["store_name"]))
            inserts.append({name: None for name in _COMPARED} | values
                           | {"created_at": now, "updated_at": now})
            continue
        changed = [name for name, value in values.items()
                   if name != "license_no" and getattr(current, name) != value]
        if not changed:
            report.unchanged += 1
            continue
        report.updated += 1
        report.changes.append(Change(license_no, "update", changed, values["store_name"]))
        updates.append({name: getattr(current, name) for name in _COMPARED}
                       | values | {"retailer_pk": current.id, "updated_at": now})
        history += [{"retailer_id": current.id, "field": name, "old_value": _text(getattr(current, name)),
                     "new_value": _text(values[name]), "source": "import",
                     "changed_by_staff_id": staff_id, "changed_at": now}
                    for name in HISTORY_FIELDS if name in changed]
        if "manager_id" in changed:
            moved[current.id] = values["manager_id"]
    absent = [row.id for license_no, row in existing.items()
              if full and row.active and license_no not in parsed]
    report.deactivated = len(absent)
    if dry_run:
        return report

    directory.write_import(session, directory.ImportWrites(inserts, updates, history, absent, moved,
                                                           compared=_COMPARED),
                           now=now, policies=policies, tz=tz)
    report.applied = True
    return report


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# -- names added in the console --------------------------------------------------------------

HEADER, BUSINESS_TYPE = "header", "business_type"
ALIAS_LIMIT = 32


def _key(kind: str, name: str) -> str:
    return header_key(name) if kind == HEADER else business_type_key(name)


def _names_in_use(policy: DirectoryPolicy, kind: str) -> dict[str, str]:
    """Every name the import already knows for this kind (compared as it compares them) -> its target."""
    if kind == HEADER:
        return {header_key(alias): name for name, names in (*HEADERS.items(), *policy.header_aliases.items())
                for alias in names}
    return policy.business_type_names()


def list_aliases(session: Session) -> list[DirectoryAlias]:
    return list(session.exec(select(DirectoryAlias).order_by(col(DirectoryAlias.kind), col(DirectoryAlias.target),
                                                             col(DirectoryAlias.id))))


def import_policy(session: Session, policy: DirectoryPolicy) -> DirectoryPolicy:
    """The names an import accepts: the built-in ones and the policy file's, plus those added in the console.
    A stored name the policy file has since given to another target (or a 业态 it no longer lists) is left
    out, so a changed file never breaks the import; the aliases page shows it as not in effect."""
    headers = {name: list(names) for name, names in policy.header_aliases.items()}
    types = {name: list(names) for name, names in policy.business_types.items()}
    for alias in list_aliases(session):
        if alias_in_effect(alias, policy):
            chosen = headers if alias.kind == HEADER else types
            chosen.setdefault(alias.target, []).append(alias.alias)
    return DirectoryPolicy(business_types=types, header_aliases=headers)


def alias_in_effect(alias: DirectoryAlias, policy: DirectoryPolicy) -> bool:
    if alias.kind == BUSINESS_TYPE and alias.target not in policy.business_types:
        return False
    return _names_in_use(policy, alias.kind).get(alias.alias_key, alias.target) == alias.target


def add_alias(session: Session, *, kind: str, target: str, alias: str, policy: DirectoryPolicy,
              staff_id: int | None, now: datetime) -> DirectoryAlias:
    """Another name for a column or a 业态; a name the import already reads as something is refused,
    so no header or 业态 can mean two things."""
    alias = alias.strip()
    if kind not in (HEADER, BUSINESS_TYPE):
        raise ServiceError(f"未知的别名类别「{kind}」")
    if kind == HEADER and target not in HEADERS:
        raise ServiceError(f"请选择别名对应的列（「{target}」不是导入的列）")
    if kind == BUSINESS_TYPE and target not in policy.business_types:
        raise ServiceError(f"请选择别名对应的业态（可选 {'、'.join(policy.business_types)}）")
    key = _key(kind, alias)
    if not key or len(alias) > ALIAS_LIMIT or any(ord(char) < 32 for char in alias):
        raise ServiceError(f"别名须为 1-{ALIAS_LIMIT} 个字，不含控制字符")
    taken = _names_in_use(import_policy(session, policy), kind).get(key)
    if taken is not None:
        owner = LABELS[taken] if kind == HEADER else taken
        raise Conflict(f"「{alias}」已是「{owner}」的名称，不能再用作「{LABELS.get(target, target)}」"
                       if taken != target else f"「{alias}」已是「{owner}」的名称")
    row = DirectoryAlias(kind=kind, target=target, alias=alias, alias_key=key, created_by_staff_id=staff_id,
                         created_at=now)
    session.add(row)
    session.flush()
    return row


def remove_alias(session: Session, alias_id: int) -> DirectoryAlias:
    row = session.get(DirectoryAlias, alias_id)
    if row is None:
        raise NotFound(f"别名 {alias_id} 不存在")
    session.delete(row)
    return row
