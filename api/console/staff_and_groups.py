"""Staff (员工) and groups (群), for admins: the same services and the same input rules as the admin API
(`api.schemas`), with the refusals in Chinese. A new or reset token is shown once, on the answer to the
form, never in an address, and the answer is not cached."""

from __future__ import annotations

from typing import Annotated, Any

import nonebot
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from api.console.web import FormMemberDep, Member, MemberDep, allowed, back_to, render
from api.schemas import GroupIn, GroupUpdate, StaffIn, StaffUpdate
from bot.models import ChatGroup, Role, StaffMember
from bot.runtime import get_runtime
from bot.services import access, accounts, directory, signin
from bot.services import staff as staff_service
from bot.services.errors import Conflict, NotFound, ServiceError

router = APIRouter()

# What each field of the API's bodies must be, said the console's way.
STAFF_RULES = {"name": f"姓名须为 1-{staff_service.NAME_LIMIT} 个字", "work_no": "工号最多 32 个字",
               "roles": "请至少选择一个角色", "chat_user_id": "QQ 号须为 4-20 位数字",
               "mobile": "手机号须为 11 位数字，以 1 开头"}
GROUP_RULES = {"group_id": "群号须为 4-20 位数字", "name": "群名称最多 128 个字", "district": "片区最多 64 个字"}
ACTIVE_RULE = "状态只能是在用或停用"
NO_STORE = {"Cache-Control": "no-store"}


def _checked(schema: Any, data: dict[str, Any], rules: dict[str, str]) -> tuple[dict[str, Any] | None, str | None]:
    """The form's values as the API's body would take them, or the first wrong field's rule in Chinese."""
    try:
        return schema.model_validate(data).model_dump(mode="json", exclude_unset=True), None
    except ValidationError as invalid:
        where = invalid.errors()[0]["loc"]
        if where[0] == "roles" and len(where) > 1:
            return None, "没有这个角色"
        return None, rules[str(where[0])]


def _optional(text: str) -> str | None:
    return text.strip() or None


# -- staff ---------------------------------------------------------------------------------------

def _staff_page(request: Request, member: Member, *, error: str | None = None, status_code: int = 200,
                form: dict[str, Any] | None = None, token_for: StaffMember | None = None,
                token: str | None = None) -> HTMLResponse:
    allowed(member, access.ADMINS)
    people = get_runtime().unit_of_work(directory.list_rows, StaffMember)
    response = render(request, "staff/list.html", member, status_code=status_code, people=people, error=error,
                      form=form or {}, roles=list(Role), token_for=token_for, token=token,
                      done=request.query_params.get("done"))
    if token:
        response.headers.update(NO_STORE)
    return response


@router.get("/staff", response_class=HTMLResponse)
def staff_page(request: Request, member: MemberDep) -> HTMLResponse:
    return _staff_page(request, member)


@router.post("/staff", response_model=None)
def create_staff(request: Request, member: FormMemberDep, name: Annotated[str, Form()] = "",
                 work_no: Annotated[str, Form()] = "", roles: Annotated[list[str] | None, Form()] = None,
                 chat_user_id: Annotated[str, Form()] = "", mobile: Annotated[str, Form()] = "") -> HTMLResponse:
    allowed(member, access.ADMINS)
    form = {"name": name, "work_no": work_no, "roles": roles or [], "chat_user_id": chat_user_id, "mobile": mobile}
    data, problem = _checked(StaffIn, {"name": name, "work_no": _optional(work_no), "roles": roles or [],
                                       "chat_user_id": _optional(chat_user_id), "mobile": _optional(mobile)},
                             STAFF_RULES)
    if data is None:
        return _staff_page(request, member, error=problem, status_code=422, form=form)
    runtime = get_runtime()
    try:
        made, token = runtime.unit_of_work(staff_service.create_with_token, data, now=runtime.clock.now())
    except ServiceError as refused:
        return _staff_page(request, member, error=str(refused), status_code=409, form=form)
    return _staff_page(request, member, token_for=made, token=token)


def _member_page(request: Request, member: Member, staff_id: int, *, error: str | None = None,
                 status_code: int = 200, form: dict[str, Any] | None = None, token: str | None = None
                 ) -> HTMLResponse:
    allowed(member, access.ADMINS)
    try:
        person = get_runtime().unit_of_work(directory.get_or_404, StaffMember, staff_id, "员工")
    except NotFound as missing:
        return render(request, "error.html", member, status_code=404, message=str(missing))
    shown = form or {"name": person.name, "work_no": person.work_no or "", "roles": person.roles,
                     "chat_user_id": person.chat_user_id or "", "mobile": person.mobile or ""}
    response = render(request, "staff/member.html", member, status_code=status_code, person=person, form=shown,
                      roles=list(Role), error=error, token=token, done=request.query_params.get("done"))
    if token:
        response.headers.update(NO_STORE)
    return response


@router.get("/staff/{staff_id:int}", response_class=HTMLResponse)
def member_page(request: Request, staff_id: int, member: MemberDep) -> HTMLResponse:
    return _member_page(request, member, staff_id)


def _change(request: Request, member: Member, staff_id: int, changes: dict[str, Any], done: str,
            form: dict[str, Any] | None = None) -> HTMLResponse | RedirectResponse:
    try:
        get_runtime().unit_of_work(staff_service.update_staff, staff_id, changes)
    except NotFound as missing:
        return render(request, "error.html", member, status_code=404, message=str(missing))
    except ServiceError as refused:
        return _member_page(request, member, staff_id, error=str(refused), status_code=409, form=form)
    return back_to(f"/console/staff/{staff_id}", done)


@router.post("/staff/{staff_id:int}", response_model=None)
def update_member(request: Request, staff_id: int, member: FormMemberDep, name: Annotated[str, Form()] = "",
                  work_no: Annotated[str, Form()] = "", roles: Annotated[list[str] | None, Form()] = None,
                  chat_user_id: Annotated[str, Form()] = "", mobile: Annotated[str, Form()] = ""
                  ) -> HTMLResponse | RedirectResponse:
    """Name, work number, roles, chat account and mobile; a blank work number, chat account or mobile
    clears it."""
    allowed(member, access.ADMINS)
    form = {"name": name, "work_no": work_no, "roles": roles or [], "chat_user_id": chat_user_id, "mobile": mobile}
    data, problem = _checked(StaffUpdate, {"name": name, "work_no": _optional(work_no), "roles": roles or [],
                                           "chat_user_id": _optional(chat_user_id), "mobile": _optional(mobile)},
                             STAFF_RULES)
    if data is None:
        return _member_page(request, member, staff_id, error=problem, status_code=422, form=form)
    return _change(request, member, staff_id, data, "已保存", form=form)


@router.post("/staff/{staff_id:int}/active", response_model=None)
def set_active(request: Request, staff_id: int, member: FormMemberDep, active: Annotated[str, Form()] = "",
               confirm: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    """停用 (their token and console sessions stop working at once) or 恢复; the last admin stays."""
    allowed(member, access.ADMINS)
    if active not in ("0", "1"):
        return _member_page(request, member, staff_id, error=ACTIVE_RULE, status_code=422)
    if confirm != "1":
        return _member_page(request, member, staff_id, error="请勾选确认后再提交", status_code=422)
    return _change(request, member, staff_id, {"active": active == "1"}, "已恢复使用" if active == "1" else "已停用")


@router.post("/staff/{staff_id:int}/token", response_model=None)
def reset_token(request: Request, staff_id: int, member: FormMemberDep,
                confirm: Annotated[str, Form()] = "") -> HTMLResponse:
    """A new token, shown on this answer only; the old one and the member's other console sessions stop
    working at once."""
    allowed(member, access.ADMINS)
    if confirm != "1":
        return _member_page(request, member, staff_id, error="请勾选确认后再重置令牌", status_code=422)
    try:
        runtime = get_runtime()
        _, token = runtime.unit_of_work(signin.reset_token, staff_id, caller=member.staff, now=runtime.clock.now(),
                                        keep_session=member.token)
    except NotFound as missing:
        return render(request, "error.html", member, status_code=404, message=str(missing))
    except ServiceError as refused:
        return _member_page(request, member, staff_id, error=str(refused), status_code=409)
    return _member_page(request, member, staff_id, token=token)


# -- groups --------------------------------------------------------------------------------------

def _connected() -> dict[str, str]:
    """The bot accounts connected to this process now: bot id -> platform."""
    from plugins.chat import platform_of  # the adapters' bots, loaded with the plugins

    return {bot_id: platform for bot_id, bot in nonebot.get_bots().items() if (platform := platform_of(bot))}


def _groups_page(request: Request, member: Member, *, error: str | None = None, status_code: int = 200,
                 form: dict[str, str] | None = None, editing: int | None = None) -> HTMLResponse:
    allowed(member, access.ADMINS)
    runtime = get_runtime()
    connected = _connected()
    groups = runtime.unit_of_work(directory.list_rows, ChatGroup)
    seen = runtime.unit_of_work(accounts.overview, connected=connected, last_sends=dict(runtime.last_sends))
    return render(request, "staff/groups.html", member, status_code=status_code, groups=groups, error=error,
                  form=form or {}, editing=editing, connected=connected, done=request.query_params.get("done"),
                  accounts=seen.accounts, members=seen.members,
                  waiting={group.id for group in seen.waiting_groups})


@router.get("/groups", response_class=HTMLResponse)
def groups_page(request: Request, member: MemberDep) -> HTMLResponse:
    return _groups_page(request, member)


@router.post("/groups", response_model=None)
def register_group(request: Request, member: FormMemberDep, group_id: Annotated[str, Form()] = "",
                   name: Annotated[str, Form()] = "", district: Annotated[str, Form()] = ""
                   ) -> HTMLResponse | RedirectResponse:
    """Only registered groups have their requests turned into tickets."""
    allowed(member, access.ADMINS)
    form = {"group_id": group_id, "name": name, "district": district}
    data, problem = _checked(GroupIn, {"group_id": group_id, "name": _optional(name),
                                       "district": _optional(district)}, GROUP_RULES)
    if data is None:
        return _groups_page(request, member, error=problem, status_code=422, form=form)
    runtime = get_runtime()
    try:
        runtime.unit_of_work(directory.create_group, data, now=runtime.clock.now())
    except ServiceError as refused:
        return _groups_page(request, member, error=str(refused), status_code=409, form=form)
    return back_to("/console/groups", f"已登记群 {data['group_id']}：群里的诉求从现在起生成工单")


@router.post("/groups/{group_pk:int}", response_model=None)
def update_group(request: Request, group_pk: int, member: FormMemberDep, name: Annotated[str, Form()] = "",
                 district: Annotated[str, Form()] = "", active: Annotated[str, Form()] = ""
                 ) -> HTMLResponse | RedirectResponse:
    """Name, district and whether the bot serves the group; a blank name or district clears it."""
    allowed(member, access.ADMINS)
    if active not in ("0", "1"):
        return _groups_page(request, member, error=ACTIVE_RULE, status_code=422, editing=group_pk)
    data, problem = _checked(GroupUpdate, {"name": _optional(name), "district": _optional(district),
                                           "active": active == "1"}, GROUP_RULES)
    if data is None:
        return _groups_page(request, member, error=problem, status_code=422, editing=group_pk)
    try:
        group = get_runtime().unit_of_work(directory.update_group, group_pk, data)
    except NotFound as missing:
        return _groups_page(request, member, error=str(missing), status_code=404)
    return back_to("/console/groups", f"群 {group.group_id} 已保存")



@router.post("/groups/{group_pk:int}/accounts", response_model=None)
def add_group_account(request: Request, group_pk: int, member: FormMemberDep, bot_id: Annotated[str, Form()] = ""
                      ) -> HTMLResponse | RedirectResponse:
    """Say a bot account (one that has connected) is in the group: its messages may go out through it."""
    allowed(member, access.ADMINS)
    runtime = get_runtime()
    try:
        row = runtime.unit_of_work(accounts.add_member, group_pk, bot_id, now=runtime.clock.now())
    except NotFound as missing:
        return _groups_page(request, member, error=str(missing), status_code=404)
    except ServiceError as refused:
        return _groups_page(request, member, error=str(refused), status_code=409 if isinstance(refused, Conflict)
                            else 422, editing=group_pk)
    return back_to("/console/groups", f"机器人账号 {row.bot_id} 已加入群 {row.group_id} 的服务账号")


@router.post("/groups/{group_pk:int}/accounts/remove", response_model=None)
def remove_group_account(request: Request, group_pk: int, member: FormMemberDep,
                         bot_id: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    """Say a bot account is not in the group: its messages no longer go out through it."""
    allowed(member, access.ADMINS)
    try:
        get_runtime().unit_of_work(accounts.remove_member, group_pk, bot_id)
    except NotFound as missing:
        return _groups_page(request, member, error=str(missing), status_code=404, editing=group_pk)
    return back_to("/console/groups", f"机器人账号 {bot_id} 已不再为该群发送")
