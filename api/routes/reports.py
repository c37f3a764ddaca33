"""Reports: pledge compliance, satisfaction, workload and the monthly appraisal, as JSON or as files,
the tickets behind each figure, and supervisors' rulings on breaches."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.deps import CurrentStaff, RuntimeDep, require
from api.downloads import attachment
from bot.fields import Id, Offset
from bot.models import StaffMember
from bot.runtime import Runtime
from bot.services import access, ledger
from bot.services.errors import Forbidden
from bot.services.reports import compliance, drill, exports, runner
from bot.services.reports.base import Period

router = APIRouter(tags=["reports"])
Supervising = Annotated[StaffMember, Depends(require(*access.SUPERVISORS))]
Format = Literal["xlsx", "csv"]


class ReportName(StrEnum):
    COMPLIANCE = "compliance"
    SATISFACTION = "satisfaction"
    WORKLOAD = "workload"
    APPRAISAL = "appraisal"


class Measure(StrEnum):
    ROUNDS = "rounds"
    CALLS = "calls"
    REQUESTS = "requests"


class PeriodAndScope(BaseModel):
    month: str | None = Field(None, description="2026-11; with neither month nor start and end: last month",
                              max_length=7)
    start: str | None = Field(None, description="first day, 2026-11-01 (with end)", max_length=10)
    end: str | None = Field(None, description="last day, included", max_length=10)
    district: str | None = Field(None, max_length=64)
    group: Id | None = Field(None, description="chat group id")
    staff: Id | None = Field(None, description="one person's own figures (service staff always get their own)")


def _reader(staff: CurrentStaff) -> StaffMember:
    if not staff.has_role(*access.REPORT_READERS):
        raise Forbidden("权限不足：报表只对主管、管理员和服务人员开放")
    return staff


Reader = Annotated[StaffMember, Depends(_reader)]
Asked = Annotated[PeriodAndScope, Query()]


def _today(runtime: Runtime) -> date:
    return runtime.clock.now().astimezone(runtime.settings.tz).date()


def _ask(runtime: Runtime, staff: StaffMember, asked: PeriodAndScope) -> runner.Asked:
    return runner.ask(staff, today=_today(runtime), **asked.model_dump())


def plain(value: Any) -> Any:
    """A report as JSON: every field, and the figures its classes compute (shares, totals, means)."""
    if isinstance(value, Period):
        return {"first": value.first, "last": value.last, "label": value.label}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        computed = {name: plain(getattr(value, name)) for name, member in vars(type(value)).items()
                    if isinstance(member, property)}
        return fields | computed
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, BaseModel):
        return value.model_dump()
    return value


@router.get("/reports/{name}", response_model=dict[str, Any])
def report(name: ReportName, runtime: RuntimeDep, staff: Reader, asked: Asked):
    """One report for a period (a month by default: last month) and a scope. Supervisors and admins see
    everyone; agents, account managers and callback staff get their own figures (403 for another's).
    Every row carries `filters`: pass them to `/reports/details/{measure}` for the tickets behind it."""
    request = _ask(runtime, staff, asked)
    result = runtime.unit_of_work(runner.run, name.value, request, tz=runtime.settings.tz, policies=runtime.policies)
    return plain(result) | {"scope": dataclasses.asdict(request.scope)}


@router.get("/reports/{name}/file", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {},
                                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
def report_file(name: ReportName, runtime: RuntimeDep, staff: Reader, asked: Asked, format: Format = "xlsx",
                sheet: Annotated[int, Query(ge=0, le=20, description="CSV: which sheet (from 0)")] = 0):
    """The report as XLSX (one sheet per view; the appraisal ready to print on A4 with signature lines) or
    one of its sheets as CSV (UTF-8 with BOM)."""
    request = _ask(runtime, staff, asked)

    def write(session):
        document = exports.document(name.value, runner.run(session, name.value, request, tz=runtime.settings.tz,
                                                            policies=runtime.policies),
                                    printable=name == ReportName.APPRAISAL)
        return exports.write_file(document, format, sheet=sheet), exports.file_name(document, format, sheet=sheet)

    file, file_name = runtime.unit_of_work(write)
    return attachment(file, file_name, format)


class DetailsOut(BaseModel):
    caption: str
    total: int
    items: list[drill.Line]


def _details_request(runtime: Runtime, staff: StaffMember, request: Request) -> tuple[runner.Asked, dict[str, str]]:
    return runner.ask_details(staff, dict(request.query_params), today=_today(runtime))


@router.get("/reports/details/{measure}", response_model=DetailsOut)
def details(measure: Measure, request: Request, runtime: RuntimeDep, staff: Reader,
            offset: Annotated[Offset, Query()] = 0, limit: Annotated[int, Query(ge=1, le=200)] = 50):
    """The tickets behind a figure, one line per thing counted: the period and scope parameters of the
    report, plus the row's `filters` (rounds: kind, bucket, owner; calls: score, check; requests:
    category, day, bot, handover, entry). Unknown filters are refused."""
    asked, filters = _details_request(runtime, staff, request)

    def read(session):
        total, found = drill.lines(session, measure.value, asked.period, asked.scope, runtime.settings.tz, filters,
                                   offset=offset, limit=limit)
        return drill.describe(measure.value, filters, compliance.names(session)), total, found

    caption, total, found = runtime.unit_of_work(read)
    return DetailsOut(caption=caption, total=total, items=found)


@router.get("/reports/details/{measure}/file", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {},
                                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
def details_file(measure: Measure, request: Request, runtime: RuntimeDep, staff: Reader, format: Format = "xlsx"):
    """The whole list as a file, streamed from the database as it is written."""
    asked, filters = _details_request(runtime, staff, request)
    filters.pop("format", None)

    def write(session):
        caption = drill.describe(measure.value, filters, compliance.names(session))
        rows = drill.all_lines(session, measure.value, asked.period, asked.scope, runtime.settings.tz, filters)
        document = exports.lines_document(caption, asked.period, rows)
        return exports.write_file(document, format), exports.file_name(document, format)

    file, file_name = runtime.unit_of_work(write)
    return attachment(file, file_name, format)


class RulingIn(BaseModel):
    excused: bool = Field(description="true: not counted against the person; false: counted again")
    reason: str = Field(min_length=1, max_length=200)


class RulingOut(BaseModel):
    id: int
    breach_id: int
    excused: bool
    reason: str
    by_staff_id: int
    at: datetime


class BreachOut(BaseModel):
    id: int
    ticket_id: int
    kind: str
    staff_id: int | None
    due_at: datetime
    breached_at: datetime
    excused: bool
    rulings: list[RulingOut]


def _breach(session, breach_id: int) -> BreachOut:
    breach = ledger.get_breach(session, breach_id)
    return BreachOut(**breach.model_dump(exclude={"round_id"}), excused=ledger.is_excused(session, breach_id),
                     rulings=[RulingOut.model_validate(r, from_attributes=True)
                              for r in ledger.corrections(session, breach_id)])


@router.get("/breaches/{breach_id}", response_model=BreachOut)
def breach(breach_id: Id, runtime: RuntimeDep, supervisor: Supervising):
    """A breach as it was recorded (it never changes) and the rulings on it, oldest first."""
    return runtime.unit_of_work(_breach, breach_id)


@router.post("/breaches/{breach_id}/rulings", response_model=BreachOut, status_code=201)
def rule(breach_id: Id, body: RulingIn, runtime: RuntimeDep, supervisor: Supervising):
    """Excuse a breach (it no longer counts in the appraisal) or count it again, with the reason. The
    breach itself is never edited or deleted; the latest ruling decides."""

    def apply(session):
        ledger.correct_breach(session, breach_id, excused=body.excused, reason=body.reason, by=supervisor,
                              now=runtime.clock.now())
        return _breach(session, breach_id)

    return runtime.unit_of_work(apply)

