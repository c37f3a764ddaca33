"""The field's pages, made for a phone: the account manager's visit tasks and the callback staff's calls.

Each list is due first; recording a visit or a call goes through `fieldwork` to `pledges`, the same
rule the API and the chat use. A refusal shows the page again with the reason and the form as filled.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.console.web import FormMemberDep, Member, MemberDep, allowed, back_to, render, templates
from bot import texts
from bot.models import Pledge
from bot.runtime import get_runtime
from bot.services import access, fieldwork, inbox, pledges
from bot.services.errors import NotFound, ServiceError

router = APIRouter()
TEXT_LIMIT = 2000
YES_NO = {"yes": True, "no": False, "": None}

templates.env.globals.update(VISIT_OUTCOME_NAMES=texts.VISIT_OUTCOME_NAMES, SATISFACTION_ITEMS=texts.SATISFACTION_ITEMS,
                             SATISFACTION_NAMES=texts.SATISFACTION_NAMES)


def _clock_words(pledge: Pledge) -> dict[str, Any]:
    """The pledge's clock for a task card: its state (running, warned, breached, paused) and time left."""
    runtime = get_runtime()
    now = runtime.clock.now()
    return {"clock": inbox.clock_of(pledge, now),
            "left": inbox.remaining(pledge, now, runtime.policies, runtime.settings.tz)}


def _not_found(request: Request, member: Member, missing: NotFound) -> HTMLResponse:
    return render(request, "error.html", member, status_code=404, message=str(missing))


def _local_minute(moment: datetime) -> str:
    return moment.astimezone(get_runtime().settings.tz).strftime("%Y-%m-%dT%H:%M")


# -- visits ------------------------------------------------------------------------------------

@router.get("/visits", response_class=HTMLResponse)
def visits_page(request: Request, member: MemberDep) -> HTMLResponse:
    allowed(member, access.VISITORS)
    tasks = get_runtime().unit_of_work(fieldwork.visit_tasks, member.staff)
    return render(request, "visits.html", member, tasks=tasks, clock=_clock_words,
                  everyone=member.may(access.SUPERVISORS), done=request.query_params.get("done"))


def _visit_form(request: Request, member: Member, ticket_id: int, *, error: str | None = None,
                status_code: int = 200, form: dict[str, str] | None = None) -> HTMLResponse:
    runtime = get_runtime()
    try:
        task = runtime.unit_of_work(fieldwork.visit_task, member.staff, ticket_id)
    except NotFound as missing:
        return _not_found(request, member, missing)
    return render(request, "visit.html", member, status_code=status_code, task=task, clock=_clock_words,
                  running=task.pledge.state in pledges.RUNNING, error=error,
                  form=form or {"visited_at": _local_minute(runtime.clock.now())})


@router.get("/visits/{ticket_id}", response_class=HTMLResponse)
def visit_form(request: Request, ticket_id: int, member: MemberDep) -> HTMLResponse:
    allowed(member, access.VISITORS)
    return _visit_form(request, member, ticket_id)


@router.post("/visits/{ticket_id}", response_model=None)
def record_visit(request: Request, ticket_id: int, member: FormMemberDep,
                 visited_at: Annotated[str, Form()] = "", action: Annotated[str, Form()] = "",
                 outcome: Annotated[str, Form()] = "", notes: Annotated[str, Form()] = "",
                 photo_url: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    allowed(member, access.VISITORS)
    runtime = get_runtime()
    form = {"visited_at": visited_at, "action": action, "outcome": outcome, "notes": notes, "photo_url": photo_url}

    def again(error: str) -> HTMLResponse:
        return _visit_form(request, member, ticket_id, error=error, status_code=422, form=form)

    when = None
    if visited_at.strip():
        try:
            when = datetime.fromisoformat(visited_at.strip())
        except ValueError:
            return again("上门时间格式不对，请重新选择")
        if when.tzinfo is None:
            when = when.replace(tzinfo=runtime.settings.tz)
    if not action.strip():
        return again("请填写上门做了什么")
    if not outcome:
        return again("请选择上门结果")
    if len(action) > TEXT_LIMIT or len(notes) > TEXT_LIMIT:
        return again(f"处理情况和备注各最多 {TEXT_LIMIT} 字")
    try:
        runtime.unit_of_work(fieldwork.record_visit, ticket_id, member.staff, action=action.strip(),
                             notes=notes.strip() or None, outcome=outcome, photo_url=photo_url.strip() or None,
                             visited_at=when, now=runtime.clock.now(), policies=runtime.policies,
                             tz=runtime.settings.tz)
    except NotFound as missing:
        return _not_found(request, member, missing)
    except ServiceError as refused:
        return again(str(refused))
    return back_to("/console/visits", f"工单 #{ticket_id} 上门已记录，上门承诺已兑现")


# -- callbacks ---------------------------------------------------------------------------------

@router.get("/callbacks", response_class=HTMLResponse)
def callbacks_page(request: Request, member: MemberDep) -> HTMLResponse:
    allowed(member, access.CALLERS)
    runtime = get_runtime()
    tasks = runtime.unit_of_work(fieldwork.call_tasks, member.staff, policies=runtime.policies)
    return render(request, "callbacks.html", member, tasks=tasks, clock=_clock_words,
                  done=request.query_params.get("done"))


def _callback_form(request: Request, member: Member, ticket_id: int, *, error: str | None = None,
                   status_code: int = 200, form: dict[str, str] | None = None) -> HTMLResponse:
    runtime = get_runtime()
    try:
        task = runtime.unit_of_work(fieldwork.call_task, member.staff, ticket_id, policies=runtime.policies)
    except NotFound as missing:
        return _not_found(request, member, missing)
    return render(request, "callback.html", member, status_code=status_code, task=task, clock=_clock_words,
                  running=task.pledge.state in pledges.RUNNING, error=error, form=form or {})


@router.get("/callbacks/{ticket_id}", response_class=HTMLResponse)
def callback_form(request: Request, ticket_id: int, member: MemberDep) -> HTMLResponse:
    allowed(member, access.CALLERS)
    return _callback_form(request, member, ticket_id)


@router.post("/callbacks/{ticket_id}", response_model=None)
def record_callback(request: Request, ticket_id: int, member: FormMemberDep,
                    reached: Annotated[str, Form()] = "", score: Annotated[str, Form()] = "",
                    reply_in_time: Annotated[str, Form()] = "", visit_happened: Annotated[str, Form()] = "",
                    supply_satisfaction: Annotated[str, Form()] = "",
                    manager_satisfaction: Annotated[str, Form()] = "",
                    handling_satisfaction: Annotated[str, Form()] = "",
                    comment: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    allowed(member, access.CALLERS)
    runtime = get_runtime()
    form = {"reached": reached, "score": score, "reply_in_time": reply_in_time, "visit_happened": visit_happened,
            "supply_satisfaction": supply_satisfaction, "manager_satisfaction": manager_satisfaction,
            "handling_satisfaction": handling_satisfaction, "comment": comment}

    def again(error: str) -> HTMLResponse:
        return _callback_form(request, member, ticket_id, error=error, status_code=422, form=form)

    if reached not in ("yes", "no"):
        return again("请选择电话是否接通")
    number = None
    if score.strip():
        try:
            number = int(score.strip())
        except ValueError:
            return again("满意度评分须为 1 到 5 的整数")
    if reply_in_time not in YES_NO or visit_happened not in YES_NO:
        return again("客户确认只能选「是」「否」或「未确认」")
    if len(comment) > TEXT_LIMIT:
        return again(f"客户意见最多 {TEXT_LIMIT} 字")
    items = pledges.Items(supply=supply_satisfaction or None, manager=manager_satisfaction or None,
                          handling=handling_satisfaction or None)
    try:
        recorded = runtime.unit_of_work(
            fieldwork.record_call, ticket_id, member.staff, reached=reached == "yes", score=number,
            reply_in_time=YES_NO[reply_in_time], visit_happened=YES_NO[visit_happened], items=items,
            comment=comment.strip() or None, now=runtime.clock.now(), policies=runtime.policies,
            tz=runtime.settings.tz)
    except NotFound as missing:
        return _not_found(request, member, missing)
    except ServiceError as refused:
        return again(str(refused))
    return back_to("/console/callbacks", recorded.message)
