"""The report pages: 承诺兑现, 满意度, 工作量 and 月度考评 for a period and a scope, each figure a link to
the tickets behind it; those lists; the files to download; and supervisors' rulings on breaches.

Who sees what is `access.report_scope` (through `runner.ask`): supervisors and admins any scope, service
staff their own figures (someone else's: 403). A bad period or filter shows the page again with the
reason (422). The figures, lists and files are the reports service's (`bot/services/reports`), the same
the API serves; this module reads the request, picks the charts and renders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from api.console import charts
from api.console.web import FormMemberDep, Member, MemberDep, Refused, allowed, back_to, render, templates
from api.downloads import attachment
from bot.models import ChatGroup, StaffMember
from bot.runtime import get_runtime
from bot.services import access, directory, ledger
from bot.services.errors import Forbidden, NotFound, ServiceError
from bot.services.reports import appraisal, compliance, drill, exports, runner, satisfaction
from bot.services.reports.base import KIND_LABELS, Named, Period

router = APIRouter()
TABS = {"compliance": "承诺兑现", "satisfaction": "满意度", "workload": "工作量", "appraisal": "月度考评"}
LISTS = {"rounds": ("承诺明细", "compliance"), "calls": ("回访明细", "satisfaction"),
         "requests": ("诉求明细", "workload")}  # measure: its title and the report it drills from
PAGE_SIZE = 50
ASKED = ("month", "start", "end", "district", "group", "staff")
_PERSON_PAGE = re.compile(r"^/console/reports/appraisal/(\d{1,9})$")


def _number(value: float | None) -> str:
    """2.0 → 2, 2.5 → 2.5, None → —."""
    return "—" if value is None else f"{value:g}"


def _minutes(value: float | None) -> str:
    """Business minutes: 25 分钟, 2 小时 05 分; None → —."""
    if value is None:
        return "—"
    if value < 60:
        return f"{value:g} 分钟"
    hours, minutes = divmod(round(value), 60)
    return f"{hours} 小时 {minutes:02d} 分"


templates.env.filters.update(chart_json=charts.chart_json, percent=exports.percent, number=_number, minutes=_minutes)
templates.env.globals.update(REPORT_TABS=TABS, KIND_LABELS=KIND_LABELS, BUCKETS=compliance.BUCKETS,
                             BUCKET_LABELS=compliance.BUCKET_LABELS, SATISFACTION_ANSWERS=satisfaction.ANSWERS,
                             SATISFACTION_ITEM_LABELS=satisfaction.ITEMS)


def _today() -> date:
    runtime = get_runtime()
    return runtime.clock.now().astimezone(runtime.settings.tz).date()


def _ask(member: Member, params: Mapping[str, str]) -> runner.Asked:
    """The period and scope asked for, as the member may have them. The picker's `by` says which of its
    fields count (月份 or 自定义 dates): the other's values stay in the form but are not read."""
    asked = {name: params.get(name, "") for name in ASKED}
    if params.get("by") == "month":
        asked["start"] = asked["end"] = ""
    elif params.get("by") == "days":
        asked["month"] = ""
    try:
        return runner.ask(member.staff, today=_today(), **asked)
    except Forbidden as refused:
        raise Refused(str(refused)) from None


def _ask_details(member: Member, params: Mapping[str, str]) -> tuple[runner.Asked, dict[str, str]]:
    """A list's period and scope, and the rest of its query as the list's filters."""
    wanted = {name: value for name, value in params.items() if name not in ("done", "sheet")}
    try:
        return runner.ask_details(member.staff, wanted, today=_today())
    except Forbidden as refused:
        raise Refused(str(refused)) from None


def _link(path: str, *parts: Mapping[str, str], **more: str) -> str:
    merged: dict[str, str] = {}
    for part in (*parts, more):
        merged.update(part)
    return f"{path}?{urlencode(merged)}" if merged else path


@dataclass
class Header:
    """What the shared header shows: the tabs, the period picker as filled in, the scope choices, the
    period's label and the export links."""

    tab: str
    asked: runner.Asked | None
    form: dict[str, str]
    supervising: bool
    districts: list[str] = field(default_factory=list)
    groups: list[ChatGroup] = field(default_factory=list)
    people: list[StaffMember] = field(default_factory=list)
    sheets: list[str] = field(default_factory=list)

    @property
    def query(self) -> dict[str, str]:
        """The period and scope as link parameters (the form as typed when it was refused)."""
        if self.asked is None:
            return {name: value for name, value in self.form.items() if value and name in ASKED}
        return {**self.asked.period.query(), **self.asked.scope.query()}

    def tab_link(self, tab: str) -> str:
        return _link(f"/console/reports/{tab}", self.query)

    def file_link(self, fmt: str, sheet: int | None = None) -> str:
        return _link(f"/console/reports/{self.tab}.{fmt}", self.query, **({} if sheet is None else
                                                                           {"sheet": str(sheet)}))


def _choices(session: Session) -> tuple[list[str], list[ChatGroup], list[StaffMember]]:
    groups: list[ChatGroup] = directory.list_rows(session, ChatGroup)
    people = [person for person in directory.list_rows(session, StaffMember)
              if person.active and person.has_role(*appraisal.SCORED_ROLES)]
    districts = sorted({group.district for group in groups if group.district})
    return districts, sorted(groups, key=lambda g: g.name or g.group_id), sorted(people, key=lambda p: p.name)


def _form(params: Mapping[str, str], asked: runner.Asked | None) -> dict[str, str]:
    form = {name: params.get(name, "") for name in ASKED}
    if asked is not None:
        period = asked.period
        if period.whole_month:
            form |= {"by": "month", "month": f"{period.first.year}-{period.first.month:02d}", "start": "", "end": ""}
        else:
            form |= {"by": "days", "month": "", "start": period.first.isoformat(), "end": period.last.isoformat()}
        form |= {"district": asked.scope.district or "", "group": str(asked.scope.chat_group_id or ""),
                 "staff": str(asked.scope.staff_id or "")}
    else:
        form["by"] = params.get("by") or ("days" if form["start"] or form["end"] else "month")
    if not form["month"] and form["by"] == "month":
        last = Period.previous_month(_today())
        form["month"] = f"{last.first.year}-{last.first.month:02d}"
    return form


def _header(member: Member, tab: str, params: Mapping[str, str], asked: runner.Asked | None) -> Header:
    header = Header(tab, asked, _form(params, asked), member.may(access.SUPERVISORS))
    if header.supervising:
        header.districts, header.groups, header.people = get_runtime().unit_of_work(_choices)
    return header


# -- the four reports --------------------------------------------------------------------------

@router.get("/reports", include_in_schema=False)
def reports_home(request: Request, member: MemberDep) -> RedirectResponse:
    allowed(member, access.REPORT_READERS)
    query = request.url.query
    return RedirectResponse("/console/reports/compliance" + (f"?{query}" if query else ""), status_code=303)


def _compliance(asked: runner.Asked, result: compliance.Compliance) -> dict[str, Any]:
    base = {**asked.period.query(), **asked.scope.query()}

    def rounds(row: compliance.Row, bucket: str) -> str:
        return _link("/console/reports/rounds", base, row.filters, bucket=bucket)

    by_kind = {row.kind: row for row in result.by_kind}
    return {"rounds": rounds, "by_kind": by_kind, "chart": charts.compliance_buckets(result.by_kind, rounds)}


def _satisfaction(asked: runner.Asked, result: Any) -> dict[str, Any]:
    base = {**asked.period.query(), **asked.scope.query()}

    def calls(filters: Mapping[str, str] | None = None, **more: str) -> str:
        return _link("/console/reports/calls", base, filters or {}, **more)

    return {"calls": calls, "chart": charts.score_distribution(result.scores, lambda score: calls(score=str(score)))}


def _workload(asked: runner.Asked, result: Any) -> dict[str, Any]:
    base = {**asked.period.query(), **asked.scope.query()}

    def requests(**more: str) -> str:
        return _link("/console/reports/requests", base, **more)

    knowledge = get_runtime().knowledge
    questions = {entry.id: entry.question for entry in knowledge.index.entries} if knowledge is not None else {}
    return {"requests": requests, "entry_questions": questions,
            "day_chart": charts.requests_per_day(result.by_day, lambda day: requests(day=day.isoformat())),
            "category_chart": charts.by_category(result.by_category, lambda count: requests(category=count.key)),
            "rest_days": sum(1 for _, _, workday in result.by_day if not workday)}


def _appraisal(asked: runner.Asked, result: appraisal.Appraisal) -> dict[str, Any]:
    around = {**asked.period.query(), **{k: v for k, v in asked.scope.query().items() if k != "staff"}}

    def person(staff_id: int) -> str:
        return _link(f"/console/reports/appraisal/{staff_id}", around)

    scores = result.scores
    return {"person": person, "formula": exports.formula(result.policy), "chart_height": charts.height_for(len(scores)),
            "chart": charts.appraisal_scores([s.name for s in scores], [s.score for s in scores],
                                             result.policy.excellent, result.policy.base,
                                             [person(s.staff_id) for s in scores])}


_PAGES: dict[str, Callable[[runner.Asked, Any], dict[str, Any]]] = {
    "compliance": _compliance, "satisfaction": _satisfaction, "workload": _workload, "appraisal": _appraisal}


def _report_page(request: Request, member: Member, tab: str) -> HTMLResponse:
    allowed(member, access.REPORT_READERS)
    runtime = get_runtime()
    params = request.query_params
    try:
        asked = _ask(member, params)
    except ServiceError as bad:
        return render(request, f"reports/{tab}.html", member, status_code=422, error=str(bad), result=None,
                      header=_header(member, tab, params, None))
    result = runtime.unit_of_work(runner.run, tab, asked, tz=runtime.settings.tz, policies=runtime.policies)
    header = _header(member, tab, params, asked)
    header.sheets = [sheet.name for sheet in exports.document(tab, result).sheets]
    return render(request, f"reports/{tab}.html", member, header=header, result=result, error=None,
                  **_PAGES[tab](asked, result))


@router.get("/reports/compliance", response_class=HTMLResponse)
def compliance_page(request: Request, member: MemberDep) -> HTMLResponse:
    return _report_page(request, member, "compliance")


@router.get("/reports/satisfaction", response_class=HTMLResponse)
def satisfaction_page(request: Request, member: MemberDep) -> HTMLResponse:
    return _report_page(request, member, "satisfaction")


@router.get("/reports/workload", response_class=HTMLResponse)
def workload_page(request: Request, member: MemberDep) -> HTMLResponse:
    return _report_page(request, member, "workload")


@router.get("/reports/appraisal", response_class=HTMLResponse)
def appraisal_page(request: Request, member: MemberDep) -> HTMLResponse:
    return _report_page(request, member, "appraisal")


# -- one person's appraisal, and rulings on their breaches ----------------------------------------

@dataclass(frozen=True)
class Ruling:
    at: datetime
    by: str
    excused: bool
    reason: str


@dataclass(frozen=True)
class Item:
    """A line of the person's page: a deduction (or the bonus), or a breach a supervisor excused."""

    at: datetime | None
    ticket_id: int | None
    what: str
    points: float | None  # None: an excused breach, no points
    breach_id: int | None = None
    excused: bool = False
    rulings: tuple[Ruling, ...] = ()
    rulable: bool = False  # the first line of its breach: where the ruling form goes


def _person(session: Session, asked: runner.Asked, *, tz: Any, policies: Any
            ) -> tuple[appraisal.Score, list[Item], Named] | None:
    named = compliance.names(session)
    staff_id = asked.scope.staff_id
    if staff_id not in named.staff:
        return None
    result = appraisal.report(session, asked.period, asked.scope, tz, policies.appraisal)
    [score] = [s for s in result.scores if s.staff_id == staff_id]
    charged = {item.breach.id: item for item in appraisal.charged(session, asked.period, asked.scope, tz)}

    def rulings(breach_id: int | None) -> tuple[Ruling, ...]:
        found = charged.get(breach_id)
        return tuple(Ruling(r.at, named.person(r.by_staff_id), r.excused, r.reason) for r in found.rulings) if found \
            else ()

    items, seen = [], set()
    for line in score.lines:
        first = line.breach_id is not None and line.breach_id not in seen
        seen.add(line.breach_id)
        items.append(Item(line.at, line.ticket_id, line.what, line.points, line.breach_id,
                          rulings=rulings(line.breach_id) if first else (), rulable=first))
    for item in charged.values():
        if item.excused:
            label = KIND_LABELS.get(item.breach.kind, item.breach.kind)  # type: ignore[call-overload]
            items.append(Item(item.breach.breached_at, item.breach.ticket_id, f"{label}超时（已免责，不扣分）", None,
                              item.breach.id, excused=True, rulings=rulings(item.breach.id), rulable=True))
    items.sort(key=lambda i: (i.at is None, i.at or datetime.min, i.ticket_id or 0))
    return score, items, named


def _person_page(request: Request, member: Member, staff_id: int, params: Mapping[str, str], *,
                 error: str | None = None, status_code: int = 200, form: dict[str, str] | None = None
                 ) -> HTMLResponse:
    allowed(member, access.REPORT_READERS)
    runtime = get_runtime()
    asking = {**params, "staff": str(staff_id)}
    try:
        asked = _ask(member, asking)
    except ServiceError as bad:
        return render(request, "reports/person.html", member, status_code=422, error=str(bad), found=None,
                      header=_header(member, "appraisal", params, None))
    found = runtime.unit_of_work(_person, asked, tz=runtime.settings.tz, policies=runtime.policies)
    if found is None:
        return render(request, "error.html", member, status_code=404, message=f"员工 {staff_id} 不存在")
    score, items, _ = found
    around = {**asked.period.query(), **{k: v for k, v in asked.scope.query().items() if k != "staff"}}
    here = _link(f"/console/reports/appraisal/{staff_id}", around)
    return render(request, "reports/person.html", member, status_code=status_code, error=error, found=found,
                  score=score, items=items, asked=asked, here=here, policy=runtime.policies.appraisal,
                  back=_link("/console/reports/appraisal", around), formula=exports.formula(runtime.policies.appraisal),
                  ruling=member.may(access.SUPERVISORS), form=form or {}, done=params.get("done"),
                  header=_header(member, "appraisal", params, asked))


@router.get("/reports/appraisal/{staff_id}", response_class=HTMLResponse)
def person_page(request: Request, staff_id: int, member: MemberDep) -> HTMLResponse:
    return _person_page(request, member, staff_id, request.query_params)


def _report_url(url: str) -> bool:
    """A page of the reports to go back to after a form: local, under /console/reports, nothing else."""
    return (url == "/console/reports" or url.startswith(("/console/reports/", "/console/reports?"))) and not any(
        char in url for char in "\r\n\\")


@router.post("/reports/breaches/{breach_id}/ruling", response_model=None)
def rule(request: Request, breach_id: int, member: FormMemberDep, excused: Annotated[str, Form()] = "",
         reason: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    """Excuse a breach (免责, no longer counted in the appraisal) or count it again, with the reason."""
    allowed(member, access.SUPERVISORS)
    if not _report_url(next):
        return render(request, "error.html", member, status_code=422, message="返回地址不对：只能回到报表页面")
    runtime = get_runtime()
    try:
        if excused not in ("1", "0"):
            raise ServiceError("请选择免责或恢复计入")
        runtime.unit_of_work(ledger.correct_breach, breach_id, excused=excused == "1", reason=reason, by=member.staff,
                             now=runtime.clock.now())
    except NotFound as missing:
        return render(request, "error.html", member, status_code=404, message=str(missing))
    except ServiceError as refused:
        page = urlsplit(next)
        person = _PERSON_PAGE.match(page.path)
        if person is None:
            return render(request, "error.html", member, status_code=422, message=str(refused))
        return _person_page(request, member, int(person.group(1)), dict(parse_qsl(page.query)), error=str(refused),
                            status_code=422, form={"breach_id": str(breach_id), "reason": reason})
    target, _, anchor = next.partition("#")  # the message goes in the query, the anchor after it
    answer = back_to(target, "已免责：这次超时不再计入考评" if excused == "1" else "已恢复计入考评")
    if anchor:
        answer.headers["location"] += "#" + anchor
    return answer


# -- the tickets behind a figure ----------------------------------------------------------------

def _lines(session: Session, measure: str, asked: runner.Asked, filters: dict[str, str], *, tz: Any, offset: int
           ) -> tuple[str, str, int, list[drill.Line]]:
    """The list's caption, its scope in words (a district, a group, a person), its length and one page."""
    total, found = drill.lines(session, measure, asked.period, asked.scope, tz, filters, offset=offset,
                               limit=PAGE_SIZE)
    named = compliance.names(session)
    scope = asked.scope
    words = [scope.district, named.group(scope.chat_group_id) if scope.chat_group_id is not None else None,
             named.person(scope.staff_id) if scope.staff_id is not None else None]
    return drill.describe(measure, filters, named), " · ".join(w for w in words if w), total, found


def _lines_page(request: Request, member: Member, measure: str) -> HTMLResponse:
    allowed(member, access.REPORT_READERS)
    runtime = get_runtime()
    params = dict(request.query_params)
    title, tab = LISTS[measure]
    page = int(params["page"]) if params.get("page", "").isdigit() and 0 < len(params["page"]) < 7 else 1
    page = max(page, 1)
    try:
        asked, filters = _ask_details(member, params)
        caption, scope, total, found = runtime.unit_of_work(_lines, measure, asked, filters, tz=runtime.settings.tz,
                                                            offset=(page - 1) * PAGE_SIZE)
    except ServiceError as bad:
        return render(request, "reports/lines.html", member, status_code=422, error=str(bad), title=title,
                      back=_link(f"/console/reports/{tab}", {k: v for k, v in params.items() if k in ASKED}),
                      tab=tab)
    query = {**asked.period.query(), **asked.scope.query(), **filters}
    pages = max(1, -(-total // PAGE_SIZE))
    return render(request, "reports/lines.html", member, error=None, title=title, tab=tab, caption=caption,
                  scope=scope, total=total, lines=found, page=page, pages=pages, period=asked.period,
                  back=_link(f"/console/reports/{tab}", asked.period.query(), asked.scope.query()),
                  previous=_link(request.url.path, query, page=str(page - 1)) if page > 1 else None,
                  following=_link(request.url.path, query, page=str(page + 1)) if page < pages else None,
                  xlsx=_link(f"/console/reports/{measure}.xlsx", query),
                  csv=_link(f"/console/reports/{measure}.csv", query))


@router.get("/reports/rounds", response_class=HTMLResponse)
def rounds_page(request: Request, member: MemberDep) -> HTMLResponse:
    return _lines_page(request, member, "rounds")


@router.get("/reports/calls", response_class=HTMLResponse)
def calls_page(request: Request, member: MemberDep) -> HTMLResponse:
    return _lines_page(request, member, "calls")


@router.get("/reports/requests", response_class=HTMLResponse)
def requests_page(request: Request, member: MemberDep) -> HTMLResponse:
    return _lines_page(request, member, "requests")


# -- files -------------------------------------------------------------------------------------

def _download(request: Request, member: Member, name: str, fmt: str) -> Response:
    allowed(member, access.REPORT_READERS)
    runtime = get_runtime()
    tz, policies = runtime.settings.tz, runtime.policies
    if name not in TABS and name not in LISTS:
        return render(request, "error.html", member, status_code=404, message=f"没有「{name}」这个报表")
    params = request.query_params
    sheet_text = params.get("sheet", "0")
    try:
        if fmt == "csv" and not (sheet_text.isdigit() and len(sheet_text) < 3):
            raise ServiceError("sheet 须是表的序号（从 0 数起）")
        sheet = int(sheet_text) if fmt == "csv" else 0
        if name in TABS:
            asked = _ask(member, params)

            def write(session: Session) -> tuple[Any, str]:
                result = runner.run(session, name, asked, tz=tz, policies=policies)
                document = exports.document(name, result, printable=name == "appraisal")
                return exports.write_file(document, fmt, sheet=sheet), exports.file_name(document, fmt, sheet=sheet)
        else:
            asked, filters = _ask_details(member, params)

            def write(session: Session) -> tuple[Any, str]:
                caption = drill.describe(name, filters, compliance.names(session))
                rows = drill.all_lines(session, name, asked.period, asked.scope, tz, filters)
                document = exports.lines_document(caption, asked.period, rows)
                return exports.write_file(document, fmt), exports.file_name(document, fmt)

        file, file_name = runtime.unit_of_work(write)
    except ServiceError as bad:
        return render(request, "error.html", member, status_code=422, message=str(bad))
    return attachment(file, file_name, fmt)


@router.get("/reports/{name}.xlsx", response_model=None)
def download_xlsx(request: Request, name: str, member: MemberDep) -> Response:
    return _download(request, member, name, "xlsx")


@router.get("/reports/{name}.csv", response_model=None)
def download_csv(request: Request, name: str, member: MemberDep) -> Response:
    return _download(request, member, name, "csv")
