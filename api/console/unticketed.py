"""未建单的消息: this week's group lines the bot opened no ticket for, so an agent can make a ticket of a request it
took for chatter (as 建单 quoting the line in the group does)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from api.console.web import FormMemberDep, Member, MemberDep, allowed, back_to, render
from bot.models import ChatGroup
from bot.runtime import get_runtime
from bot.services import access, classify, directory, intake, tickets
from bot.services.errors import NotFound, ServiceError
from bot.services.guard import mask_personal_data
from bot.texts import CATEGORY_LABELS

router = APIRouter()


def _lines(session: Session, group: int | None, since: datetime, public_numbers: tuple[str, ...]) -> dict[str, Any]:
    lines = tickets.unticketed_lines(session, since=since, chat_group_id=group)
    groups = directory.list_rows(session, ChatGroup)
    return {"groups": groups, "names": {g.id: g.name or g.group_id for g in groups},
            "lines": [{"line": line, "text": mask_personal_data(line.text, public_numbers),
                       "guess": classify.likeliest_request(line.text) if line.ticket_id is None else None}
                      for line in lines]}


def _page(request: Request, member: Member, group: int | None, *, done: str = "", error: str | None = None,
          status_code: int = 200, form: dict[str, str] | None = None) -> HTMLResponse:
    allowed(member, access.READERS)
    runtime = get_runtime()
    found = runtime.unit_of_work(_lines, group, runtime.clock.now() - tickets.UNTICKETED_KEPT_FOR,
                                 tuple(runtime.settings.public_numbers))
    return render(request, "unticketed.html", member, status_code=status_code, chosen_group=group, done=done,
                  error=error, form=form or {}, categories=CATEGORY_LABELS, days=tickets.UNTICKETED_KEPT_FOR.days,
                  **found)


@router.get("/unticketed", response_class=HTMLResponse)
def unticketed(request: Request, member: MemberDep, group: int | None = None, done: str = "") -> HTMLResponse:
    return _page(request, member, group, done=done)


@router.post("/unticketed/{line_id}/ticket", response_model=None)
def make_ticket(request: Request, line_id: int, member: FormMemberDep,
                category: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    allowed(member, access.REPLIERS)  # as 建单 quoting the line in the group
    runtime = get_runtime()
    try:
        opened = runtime.unit_of_work(intake.ticket_from_unticketed, line_id, category or None, member.staff,
                                      now=runtime.clock.now(), settings=runtime.settings, policies=runtime.policies)
    except NotFound as missing:
        return render(request, "error.html", member, status_code=404, message=str(missing))
    except ServiceError as refused:
        return _page(request, member, None, error=str(refused), status_code=422,
                     form={"line": str(line_id), "category": category})
    return back_to(f"/console/tickets/{opened.ticket_id}", f"已建单：工单 #{opened.ticket_id}，群里已告知零售户")
