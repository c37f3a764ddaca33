"""The outbox page: what waits to be sent per bot account and lane, since when, and the dead letters,
each of which an admin or supervisor sends again or cancels (the ticket's trail says who)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.console.web import FormMemberDep, Member, MemberDep, allowed, back_to, render
from bot.models import Lane, OutboxStatus, id_of
from bot.runtime import get_runtime
from bot.services import access, outbox
from bot.services.errors import ServiceError

router = APIRouter()
LANE_NAMES = {Lane.REPLY: "答复", Lane.STAFF: "员工任务", Lane.ESCALATION: "超时上报", Lane.BROADCAST: "群发"}
SHOWN = 50


def _page(request: Request, member: Member, *, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    runtime = get_runtime()
    queues = runtime.unit_of_work(outbox.queues)
    dead = runtime.unit_of_work(outbox.list_messages, status=OutboxStatus.DEAD, offset=0, limit=SHOWN)
    settings = runtime.settings
    pace = outbox.sends_per_minute(settings.outbox_rate_per_minute, settings.outbox_min_interval_seconds,
                                   settings.outbox_jitter_seconds)
    estimates = outbox.minutes_to_send(queues, pace)
    return render(request, "outbox.html", member, status_code=status_code, queues=queues, dead=dead,
                  lanes=LANE_NAMES, waited=_waited, error=error, done=request.query_params.get("done"),
                  pace=pace, limit=settings.outbox_rate_per_minute, combined_at_most=outbox.COMBINED_AT_MOST,
                  left=lambda q: _left(estimates.get((q.platform, q.bot_id, q.lane))))


def _left(minutes: float | None) -> str:
    if minutes is None:
        return "—"
    return "不到 1 分钟" if minutes < 1 else f"约 {round(minutes)} 分钟"


def _waited(oldest: datetime | None) -> str:
    """How long the longest-waiting message has waited, in words."""
    if oldest is None:
        return "—"
    minutes = int((get_runtime().clock.now() - oldest).total_seconds() // 60)
    if minutes < 1:
        return "不到 1 分钟"
    return f"{minutes} 分钟" if minutes < 60 else f"{minutes // 60} 小时 {minutes % 60} 分"


@router.get("/outbox", response_class=HTMLResponse)
def outbox_page(request: Request, member: MemberDep) -> HTMLResponse:
    allowed(member, access.SUPERVISORS)
    return _page(request, member)


@router.post("/outbox/{message_id}/{action}", response_model=None)
def act(request: Request, message_id: int, action: str, member: FormMemberDep,
        confirm: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    """重发 or 取消 one message; the form asks to confirm (`confirm=1`)."""
    allowed(member, access.SUPERVISORS)
    doing = {"retry": (outbox.retry_dead, "已重新发送"), "cancel": (outbox.cancel_unsent, "已取消发送")}.get(action)
    if doing is None:
        return _page(request, member, error=f"没有「{action}」这个操作", status_code=404)
    if confirm != "1":
        return _page(request, member, error="请勾选确认后再提交", status_code=422)
    change, done = doing
    runtime = get_runtime()
    try:
        runtime.unit_of_work(change, message_id, now=runtime.clock.now(), staff_id=id_of(member.staff))
    except ServiceError as refused:
        return _page(request, member, error=str(refused), status_code=404 if "不存在" in str(refused) else 422)
    return back_to("/console/outbox", f"消息 {message_id} {done}")
