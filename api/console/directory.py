"""The retailer directory (零售户名录): search, a retailer's card, the import with its dry-run report,
territory transfer, export, and the header and 业态 aliases the import reads.

Every page calls the services the API calls (`directory`, `retailer_import`, `access`), so who sees
which retailer, and in how much detail, is the API's rule.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.web import FormMemberDep, Member, MemberDep, allowed, back_to, render
from api.routes.retailers import run_import
from api.schemas import RETAILER_VIEWS
from bot.models import Retailer, Role, StaffMember, id_of
from bot.runtime import get_runtime
from bot.services import access, directory, retailer_import, spreadsheets
from bot.services import staff as staff_service
from bot.services.errors import NotFound, ServiceError, TooLarge
from bot.services.spreadsheets import TableError

router = APIRouter()
PAGE_SIZE = 50
REPORT_ROWS = 500  # rows of a report's tables shown; the counts cover the whole file

FIELD_NAMES = {**retailer_import.LABELS, "manager_id": "客户经理", "active": "状态", "id": "编号"}
CHANGE_SOURCES = {"import": "导入", "api": "修改", "transfer": "片区移交"}
ACTIVE_CHOICES = {"": "全部状态", "1": "在用", "0": "已停用"}


def _managers() -> list[StaffMember]:
    return get_runtime().unit_of_work(staff_service.able_to_take, [Role.MANAGER])[Role.MANAGER]


def _staff_names() -> dict[int, str]:
    return {id_of(member): member.name
            for member in get_runtime().unit_of_work(directory.list_rows, StaffMember)}


def _number(text: str, low: int, high: int) -> int | None:
    """A whole number typed into a filter, or None when it is empty or not one (the filter is then left off)."""
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return value if low <= value <= high else None


def _filter(member: Member, q: str, district: str, manager: str, grade: str, active: str
            ) -> directory.RetailerFilter:
    """The search as typed; a manager held to their own territory searches it whatever they pick."""
    return directory.RetailerFilter(
        q=q.strip()[:64] or None, district=district.strip()[:64] or None,
        manager_id=None if access.restricted_to_own(member.staff) else _number(manager, 1, 2**31 - 1),
        grade=_number(grade, 1, 30), active={"1": True, "0": False}.get(active))


# -- the list ------------------------------------------------------------------------------------

def _list_page(request: Request, member: Member, *, error: str | None = None, status_code: int = 200,
               transfer: dict[str, str] | None = None) -> HTMLResponse:
    allowed(member, access.READERS)
    params = request.query_params
    typed = {key: params.get(key, "") for key in ("q", "district", "manager", "grade", "active")}
    flt = _filter(member, **typed)
    page = max(_number(params.get("page", "1"), 1, 100_000) or 1, 1)
    runtime, staff = get_runtime(), member.staff

    def search(session: Any) -> tuple[int, list[Retailer], dict[int, access.View], list[str]]:
        total, rows = directory.search_retailers(
            session, flt, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE,
            visible=access.retailers_visible(staff),
            owner_visible=access.retailers_visible(staff, at_least=access.View.CALLBACK))
        views = access.retailer_views(session, staff, [id_of(row) for row in rows])
        return total, rows, views, directory.districts(session, access.retailers_visible(staff))

    total, rows, views, districts = runtime.unit_of_work(search)
    shown = [RETAILER_VIEWS[views[id_of(row)]].model_validate(row).model_dump() for row in rows]
    query = urlencode({key: value for key, value in typed.items() if value})
    return render(request, "directory/list.html", member, status_code=status_code, rows=shown, total=total,
                  page=page, pages=max(1, -(-total // PAGE_SIZE)), typed=typed, query=query,
                  show_owner=any("owner_name" in row for row in shown),
                  districts=districts, managers=_managers(), names=_staff_names(), active_choices=ACTIVE_CHOICES,
                  own_only=access.restricted_to_own(staff), error=error, transfer=transfer or {},
                  done=params.get("done"))


@router.get("/directory", response_class=HTMLResponse)
def directory_page(request: Request, member: MemberDep) -> HTMLResponse:
    return _list_page(request, member)


@router.get("/directory/export", response_model=None)
def export(member: MemberDep, format: str = "csv", q: str = "", district: str = "", manager: str = "",
           grade: str = "", active: str = "") -> Response:
    """The search's retailers as a spreadsheet, only those the member sees in full (the API's export)."""
    allowed(member, access.EXPORTERS)
    if format not in spreadsheets.MEDIA_TYPES:
        format = "csv"
    flt = _filter(member, q, district, manager, grade, active)
    rows = get_runtime().unit_of_work(directory.export_rows, flt,
                                      visible=access.retailers_visible(member.staff, at_least=access.View.FULL))
    return Response(spreadsheets.write_table(rows, format, "零售客户"), media_type=spreadsheets.MEDIA_TYPES[format],
                    headers={"Content-Disposition": f'attachment; filename="retailers.{format}"'})


@router.post("/directory/transfer", response_model=None)
def transfer(request: Request, member: FormMemberDep, from_manager: Annotated[str, Form()] = "",
             to_manager: Annotated[str, Form()] = "", district: Annotated[str, Form()] = "",
             confirm: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    """Move a manager's territory (or one district of it) and its open visit tasks to another manager."""
    allowed(member, access.SUPERVISORS)
    form = {"from_manager": from_manager, "to_manager": to_manager, "district": district}

    def again(error: str) -> HTMLResponse:
        return _list_page(request, member, error=error, status_code=422, transfer=form)

    source, target = _number(from_manager, 1, 2**31 - 1), _number(to_manager, 1, 2**31 - 1)
    if source is None or target is None:
        return again("请选择移出片区的客户经理和接收的客户经理")
    if confirm != "1":
        return again("请勾选确认后再移交")
    runtime = get_runtime()
    try:
        moved, visits = runtime.unit_of_work(
            directory.transfer_territory, from_manager_id=source, to_manager_id=target,
            district=district.strip()[:64] or None, retailer_ids=None, staff_id=id_of(member.staff),
            now=runtime.clock.now(), policies=runtime.policies, tz=runtime.settings.tz)
    except ServiceError as refused:
        return again(str(refused))
    if not moved:
        return again("移出的客户经理名下没有符合条件的零售户，未作任何更改")
    names = _staff_names()
    return back_to("/console/directory",
                   f"已将 {moved} 家零售户从 {names.get(source)} 移交给 {names.get(target)}，"
                   f"随之转交上门任务 {visits} 个")


# -- a retailer's card ---------------------------------------------------------------------------

def _card(request: Request, member: Member, retailer_id: int, *, error: str | None = None,
          status_code: int = 200) -> HTMLResponse:
    allowed(member, access.READERS)
    runtime = get_runtime()

    def read(session: Any) -> tuple[Retailer, access.View, list[Any], list[Any]]:
        retailer, view = access.readable_retailer(session, member.staff, retailer_id)
        bindings = directory.bindings_of(session, retailer_id) if member.may(access.ADMINS) else []
        history = directory.history_of(session, retailer_id) if view >= access.View.FULL else []
        return retailer, view, bindings, history

    try:
        retailer, view, bindings, history = runtime.unit_of_work(read)
    except NotFound as missing:
        return render(request, "error.html", member, status_code=404, message=str(missing))
    shown = RETAILER_VIEWS[view].model_validate(retailer).model_dump()
    return render(request, "directory/card.html", member, status_code=status_code, retailer=shown, view=view,
                  bindings=bindings, history=history, names=_staff_names(), field_names=FIELD_NAMES,
                  sources=CHANGE_SOURCES, error=error, done=request.query_params.get("done"))


@router.get("/directory/{retailer_id:int}", response_class=HTMLResponse)
def card(request: Request, retailer_id: int, member: MemberDep) -> HTMLResponse:
    return _card(request, member, retailer_id)


@router.post("/directory/{retailer_id:int}/bindings", response_model=None)
def bind(request: Request, retailer_id: int, member: FormMemberDep,
         chat_user_id: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    allowed(member, access.ADMINS)
    account = chat_user_id.strip()
    if not (account.isascii() and account.isdigit() and 4 <= len(account) <= 20):
        return _card(request, member, retailer_id, error="QQ 号须为 4-20 位数字", status_code=422)
    runtime = get_runtime()
    try:
        runtime.unit_of_work(directory.staff_bind, retailer_id, platform="qq", chat_user_id=account,
                             staff=member.staff, now=runtime.clock.now())
    except NotFound as missing:
        return render(request, "error.html", member, status_code=404, message=str(missing))
    except ServiceError as refused:
        return _card(request, member, retailer_id, error=str(refused), status_code=409)
    return back_to(f"/console/directory/{retailer_id}", f"已绑定 QQ {account}")


@router.post("/directory/{retailer_id:int}/bindings/{binding_id}/delete", response_model=None)
def unbind(request: Request, retailer_id: int, binding_id: int, member: FormMemberDep
           ) -> HTMLResponse | RedirectResponse:
    allowed(member, access.ADMINS)
    try:
        get_runtime().unit_of_work(directory.staff_unbind, retailer_id, binding_id)
    except NotFound as missing:
        return _card(request, member, retailer_id, error=str(missing), status_code=404)
    return back_to(f"/console/directory/{retailer_id}", "已解除绑定")


# -- the import ----------------------------------------------------------------------------------

def _checked(content: bytes, full: bool) -> str:
    """What a dry run checked: the file and whether it is the full list; applying needs the same."""
    return hashlib.sha256(content + (b"\x00full" if full else b"\x00part")).hexdigest()


def _import_page(request: Request, member: Member, *, report: retailer_import.ImportReport | None = None,
                 error: str | None = None, checked: str = "", status_code: int = 200) -> HTMLResponse:
    return render(request, "directory/import.html", member, status_code=status_code, report=report, error=error,
                  checked=checked, field_names=FIELD_NAMES, shown=REPORT_ROWS, done=request.query_params.get("done"))


@router.get("/directory/import", response_class=HTMLResponse)
def import_page(request: Request, member: MemberDep) -> HTMLResponse:
    allowed(member, access.ADMINS)
    return _import_page(request, member)


@router.post("/directory/import", response_model=None)
async def import_file(request: Request, member: FormMemberDep, file: Annotated[UploadFile | None, File()] = None,
                      full: Annotated[str, Form()] = "", mode: Annotated[str, Form()] = "check",
                      checked: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    """试运行 (mode=check) reports what the file would change; 确认导入 (mode=apply) applies the very file
    and option the dry run checked, and nothing else."""
    allowed(member, access.ADMINS)
    content = await file.read(spreadsheets.MAX_BYTES + 1) if file is not None else b""
    if not content:
        return _import_page(request, member, error="请选择要导入的文件（XLSX、XLS 或 CSV）", status_code=422)
    apply, whole = mode == "apply", full == "1"
    if apply and checked != _checked(content, whole):
        return _import_page(request, member, status_code=422,
                            error="请先试运行：要导入的文件或「完整名单」选项与试运行检查的不一致")
    try:
        report = await run_import(get_runtime(), content, (file.filename if file else "") or "", dry_run=not apply,
                                  full=whole, staff_id=id_of(member.staff))
    except TooLarge as refused:
        return _import_page(request, member, error=str(refused), status_code=413)
    except TableError as refused:
        return _import_page(request, member, error=str(refused), status_code=422)
    if report.errors:
        return _import_page(request, member, report=report, status_code=422,
                            error=f"{len(report.errors)} 处错误，未做任何更改：请按行修改后重新试运行")
    if apply:
        return back_to("/console/directory/import",
                       f"导入完成：新增 {report.created} 家，更新 {report.updated} 家，未变 {report.unchanged} 家"
                       + (f"，停用 {report.deactivated} 家" if whole else ""))
    return _import_page(request, member, report=report, checked=_checked(content, whole))


# -- aliases -------------------------------------------------------------------------------------

def _aliases_page(request: Request, member: Member, *, error: str | None = None, status_code: int = 200,
                  form: dict[str, str] | None = None) -> HTMLResponse:
    allowed(member, access.ADMINS)
    policy = get_runtime().policies.directory
    stored = get_runtime().unit_of_work(retailer_import.list_aliases)
    return render(request, "directory/aliases.html", member, status_code=status_code, error=error,
                  form=form or {}, headers=retailer_import.HEADERS, labels=retailer_import.LABELS, policy=policy,
                  stored=stored, in_effect=lambda alias: retailer_import.alias_in_effect(alias, policy),
                  HEADER=retailer_import.HEADER, BUSINESS_TYPE=retailer_import.BUSINESS_TYPE,
                  done=request.query_params.get("done"))


@router.get("/directory/aliases", response_class=HTMLResponse)
def aliases_page(request: Request, member: MemberDep) -> HTMLResponse:
    return _aliases_page(request, member)


@router.post("/directory/aliases", response_model=None)
def add_alias(request: Request, member: FormMemberDep, kind: Annotated[str, Form()] = "",
              target: Annotated[str, Form()] = "", alias: Annotated[str, Form()] = ""
              ) -> HTMLResponse | RedirectResponse:
    allowed(member, access.ADMINS)
    runtime = get_runtime()
    try:
        added = runtime.unit_of_work(retailer_import.add_alias, kind=kind, target=target, alias=alias,
                                     policy=runtime.policies.directory, staff_id=id_of(member.staff),
                                     now=runtime.clock.now())
    except ServiceError as refused:
        return _aliases_page(request, member, error=str(refused), status_code=422,
                             form={"kind": kind, "target": target, "alias": alias})
    meaning = retailer_import.LABELS.get(added.target, added.target)
    return back_to("/console/directory/aliases", f"已添加：「{added.alias}」今后按「{meaning}」读取")


@router.post("/directory/aliases/{alias_id}/delete", response_model=None)
def remove_alias(request: Request, alias_id: int, member: FormMemberDep) -> HTMLResponse | RedirectResponse:
    allowed(member, access.ADMINS)
    try:
        removed = get_runtime().unit_of_work(retailer_import.remove_alias, alias_id)
    except NotFound as missing:
        return _aliases_page(request, member, error=str(missing), status_code=404)
    return back_to("/console/directory/aliases", f"已删除别名「{removed.alias}」")
