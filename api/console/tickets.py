"""The agents' inbox and the ticket page, with the actions an agent takes on a ticket."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as day_time
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.console.web import FormMemberDep, Member, MemberDep, allowed, back_to, render
from bot.models import Category, ChatGroup, PledgeKind, StaffMember
from bot.runtime import get_runtime
from bot.services import access, directory, inbox, intake, knowledge, pledges, tickets, timeline
from bot.services import staff as staff_service
from bot.services.errors import Conflict, NotFound, ServiceError
from bot.texts import CATEGORY_LABELS

router = APIRouter()
PAGE_SIZE = 50
CANNED_LIMIT = 6  # canned replies offered for one search
VIEWING_SECONDS = 90  # someone who opened a ticket this recently is shown as viewing it


class _Viewers:
    """Who has a ticket open in this process's console, so a second agent sees them."""

    def __init__(self) -> None:
        self._seen: dict[int, dict[int, tuple[str, float]]] = {}

    def saw(self, ticket_id: int, staff: StaffMember) -> list[str]:
        """Note the member; the names of the others viewing it now."""
        now = time.monotonic()
        viewers = self._seen.setdefault(ticket_id, {})
        for staff_id, (_, at) in list(viewers.items()):
            if now - at > VIEWING_SECONDS:
                del viewers[staff_id]
        others = [name for staff_id, (name, _) in viewers.items() if staff_id != staff.id]
        viewers[staff.id or 0] = (staff.name, now)
        return others


viewers = _Viewers()


def _day(text: str | None, tz: Any, *, end: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return datetime.combine(day + timedelta(days=1 if end else 0), day_time.min, tz)


def _inbox(member: Member, view: str, group: int | None, district: str, category: str, day_from: str, day_to: str,
           q: str, page: int) -> dict[str, Any]:
    allowed(member, access.READERS)
    runtime = get_runtime()
    tz = runtime.settings.tz
    chosen = inbox.InboxView(view) if view in inbox.InboxView.__members__.values() else inbox.InboxView.OPEN
    flt = inbox.InboxFilter(group_id=group, district=district.strip() or None,
                            category=category if category in Category.__members__.values() else None,
                            created_from=_day(day_from, tz), created_to=_day(day_to, tz, end=True),
                            q=q.strip()[:100] or None)
    page = max(page, 1)
    filters = {"group": group or "", "district": district, "category": category, "from": day_from, "to": day_to,
               "q": q}
    total, rows = runtime.unit_of_work(inbox.list_inbox, member.staff, chosen, flt, now=runtime.clock.now(),
                                       policies=runtime.policies, tz=tz, offset=(page - 1) * PAGE_SIZE,
                                       limit=PAGE_SIZE, public_numbers=runtime.settings.public_numbers)
    return {"view": chosen, "rows": rows, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
            "filters": filters, "paging": urlencode({"view": chosen.value, **{k: v for k, v in filters.items() if v}})}


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/console/tickets", status_code=303)


@router.get("/tickets", response_model=None)
def inbox_page(request: Request, member: MemberDep, view: str = "open", group: Annotated[int | None, Query()] = None,
               district: str = "", category: str = "", day_from: Annotated[str, Query(alias="from")] = "",
               day_to: Annotated[str, Query(alias="to")] = "", q: str = "", page: int = 1
               ) -> HTMLResponse | RedirectResponse:
    if not member.may(access.READERS) and member.may(access.PUBLISHERS):
        return RedirectResponse("/console/supply", status_code=303)  # marketing staff's own first page
    context = _inbox(member, view, group, district, category, day_from, day_to, q, page)
    runtime = get_runtime()
    groups = runtime.unit_of_work(directory.list_rows, ChatGroup)
    return render(request, "inbox.html", member, groups=groups, categories=list(Category),
                  views=inbox.VIEW_NAMES, query=request.url.query, **context)


@router.get("/tickets/rows", response_class=HTMLResponse)
def inbox_rows(request: Request, member: MemberDep, view: str = "open", group: Annotated[int | None, Query()] = None,
               district: str = "", category: str = "", day_from: Annotated[str, Query(alias="from")] = "",
               day_to: Annotated[str, Query(alias="to")] = "", q: str = "", page: int = 1) -> HTMLResponse:
    """The inbox's rows alone: what the page fetches when something changes."""
    context = _inbox(member, view, group, district, category, day_from, day_to, q, page)
    return render(request, "_rows.html", member, **context)


def _ticket(request: Request, member: Member, ticket_id: int, *, error: str | None = None, status_code: int = 200,
            text: str = "", confirm_needed: str | None = None, form: dict[str, str] | None = None) -> HTMLResponse:
    """The ticket page; after a refused form, `error` says why and `form` keeps what was typed."""
    allowed(member, access.READERS)
    runtime = get_runtime()
    try:
        page = runtime.unit_of_work(timeline.ticket_page, member.staff, ticket_id,
                                    public_numbers=runtime.settings.public_numbers)
    except NotFound as missing:
        return render(request, "error.html", member, status_code=404, message=str(missing))
    candidates = (runtime.unit_of_work(staff_service.able_to_take, sorted({p.owner_role for p in page.pledges}))
                  if member.may(access.SUPERVISORS) else {})
    replies = [entry.text for entry in page.entries if entry.kind == "reply"]
    reply_pledge = next((p for p in page.pledges if p.kind == PledgeKind.REPLY), None)
    return render(request, "ticket.html", member, status_code=status_code, page=page, error=error, draft=text,
                  confirm_needed=confirm_needed, viewing=viewers.saw(ticket_id, member.staff),
                  done=request.query_params.get("done"), pledge_words=timeline.PLEDGE_WORDS,
                  clock_of=inbox.clock_of, candidates=candidates, form=form or {},
                  claimed_by=page.owners.get(reply_pledge.owner_staff_id) if reply_pledge
                  and reply_pledge.owner_staff_id else None,
                  latest_reply=replies[-1] if replies else "",
                  remaining={p.kind: inbox.remaining(p, runtime.clock.now(), runtime.policies, runtime.settings.tz)
                             for p in page.pledges})


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
def ticket_page(request: Request, ticket_id: int, member: MemberDep) -> HTMLResponse:
    return _ticket(request, member, ticket_id)


def _act(request: Request, member: Member, ticket_id: int, done: str | Callable[[Any], str], action: Any, *args: Any,
         text: str = "", confirming: str | None = None, form: dict[str, str] | None = None,
         missing_is_input: bool = False, **kwargs: Any) -> HTMLResponse | RedirectResponse:
    """Run one service call for the ticket; on a refusal, the page again with the reason (and, where
    another agent has the ticket, the form `confirming` names asks to confirm). `missing_is_input`:
    something the form named (another ticket) does not exist, which is the form's error, not a 404."""
    runtime = get_runtime()
    try:
        result = runtime.unit_of_work(action, *args, **kwargs)
    except Conflict as taken:
        return _ticket(request, member, ticket_id, error=str(taken), status_code=409, text=text,
                       confirm_needed=confirming, form=form)
    except NotFound as missing:
        if missing_is_input:
            return _ticket(request, member, ticket_id, error=str(missing), status_code=422, text=text, form=form)
        return render(request, "error.html", member, status_code=404, message=str(missing))
    except ServiceError as refused:
        return _ticket(request, member, ticket_id, error=str(refused), status_code=422, text=text, form=form)
    return back_to(f"/console/tickets/{ticket_id}", done(result) if callable(done) else done)


@router.post("/tickets/{ticket_id}/claim", response_model=None)
def claim(request: Request, ticket_id: int, member: FormMemberDep,
          confirm: Annotated[bool, Form()] = False) -> HTMLResponse | RedirectResponse:
    allowed(member, access.REPLIERS)
    runtime = get_runtime()
    return _act(request, member, ticket_id, "已接单", pledges.claim_ticket, ticket_id, member.staff,
                confirming="claim", now=runtime.clock.now(), confirm=confirm)


@router.post("/tickets/{ticket_id}/reply", response_model=None)
def reply(request: Request, ticket_id: int, member: FormMemberDep, text: Annotated[str, Form()] = "",
          confirm: Annotated[bool, Form()] = False) -> HTMLResponse | RedirectResponse:
    allowed(member, access.REPLIERS)
    if not text.strip():
        return _ticket(request, member, ticket_id, error="回复内容不能为空", status_code=422)
    if len(text) > 2000:
        return _ticket(request, member, ticket_id, error="回复最多 2000 字", status_code=422, text=text)
    runtime = get_runtime()
    return _act(request, member, ticket_id, "回复已发送", intake.reply_via_api, ticket_id, member.staff,
                text.strip(), text=text, confirming="reply", confirm=confirm, now=runtime.clock.now(),
                policies=runtime.policies, tz=runtime.settings.tz)


@router.post("/tickets/{ticket_id}/note", response_model=None)
def note(request: Request, ticket_id: int, member: FormMemberDep,
         note: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    """`note`, not `text`: the page's one field named `text` is the reply's."""
    allowed(member, access.REPLIERS)
    if len(note) > 2000:
        return _ticket(request, member, ticket_id, error="备注最多 2000 字", status_code=422)
    runtime = get_runtime()
    return _act(request, member, ticket_id, "备注已保存", tickets.add_note, ticket_id, member.staff.id, note,
                now=runtime.clock.now())


@router.post("/tickets/{ticket_id}/close", response_model=None)
def close(request: Request, ticket_id: int, member: FormMemberDep,
          note: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    allowed(member, access.REPLIERS)
    runtime = get_runtime()
    return _act(request, member, ticket_id, "工单已关闭", intake.close_ticket, ticket_id, member.staff,
                note.strip()[:500] or None, now=runtime.clock.now(), policies=runtime.policies,
                tz=runtime.settings.tz)


@router.post("/tickets/{ticket_id}/reopen", response_model=None)
def reopen(request: Request, ticket_id: int, member: FormMemberDep,
           note: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    allowed(member, access.REPLIERS)
    runtime = get_runtime()
    return _act(request, member, ticket_id, "工单已重新打开", intake.reopen_ticket, ticket_id, member.staff,
                note.strip()[:500] or None, now=runtime.clock.now(), policies=runtime.policies,
                tz=runtime.settings.tz)


@router.post("/tickets/{ticket_id}/category", response_model=None)
def recategorise(request: Request, ticket_id: int, member: FormMemberDep,
                 category: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    allowed(member, access.REPLIERS)  # as POST /tickets/{id}/category
    runtime = get_runtime()
    return _act(request, member, ticket_id, f"类别已改为{CATEGORY_LABELS.get(category, category)}",
                intake.recategorise_ticket, ticket_id, category, member.staff, now=runtime.clock.now(),
                policies=runtime.policies, tz=runtime.settings.tz, form={"category": category})


@router.post("/tickets/{ticket_id}/not-a-request", response_model=None)
def not_a_request(request: Request, ticket_id: int, member: FormMemberDep) -> HTMLResponse | RedirectResponse:
    allowed(member, access.REPLIERS)  # as POST /tickets/{id}/not-a-request
    runtime = get_runtime()
    return _act(request, member, ticket_id, "已标为不是诉求：工单关闭，不计入诉求统计", intake.mark_not_a_request,
                ticket_id, member.staff, None, now=runtime.clock.now(), policies=runtime.policies,
                tz=runtime.settings.tz)


# -- canned replies, visits, clocks, reassignment, merging, teaching the knowledge base -----------

@router.get("/canned", response_class=HTMLResponse)
def canned(request: Request, member: MemberDep, q: str = "") -> HTMLResponse:
    """Knowledge entries matching the words typed, as buttons that put the answer into the reply box
    (`static/console.js`). Any staff member may search the base, as in the API."""
    runtime = get_runtime()
    words = q.strip()[:100]
    base = runtime.knowledge
    if not words or base is None:
        return render(request, "_canned.html", member, q=words, entries=[])
    # entries that contain the words as typed first, then those the model ranks nearest
    containing = [entry for entry in base.index.entries
                  if any(words in text for text in (entry.id, entry.question, entry.answer, *entry.similar))]
    ranked = [match.entry for match in base.index.rank(words, limit=CANNED_LIMIT)
              if match.similarity >= base.index.thresholds.suggest]  # the bar the bot suggests entries at
    entries = list({entry.id: entry for entry in [*containing, *ranked]}.values())[:CANNED_LIMIT]
    return render(request, "_canned.html", member, q=words, entries=entries)


@router.post("/tickets/{ticket_id}/visit", response_model=None)
def order_visit(request: Request, ticket_id: int, member: FormMemberDep,
                note: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    allowed(member, access.REPLIERS)  # as POST /tickets/{id}/visit
    if len(note) > 500:
        return _ticket(request, member, ticket_id, error="上门说明最多 500 字", status_code=422,
                       form={"visit_note": note})
    runtime = get_runtime()
    return _act(request, member, ticket_id, lambda ordered: ordered.confirmation(ticket_id), pledges.need_visit,
                ticket_id, note=note.strip() or None,
                now=runtime.clock.now(), policies=runtime.policies, tz=runtime.settings.tz,
                staff_id=member.staff.id, form={"visit_note": note})


def _clock_change(request: Request, member: Member, ticket_id: int, kind: str, reason: str, *,
                  pausing: bool) -> HTMLResponse | RedirectResponse:
    allowed(member, access.REPLIERS)  # as POST /pledges/{id}/pause and /resume
    form = {"clock_kind": kind, "clock_reason": reason}
    if kind not in PledgeKind.__members__.values():
        return _ticket(request, member, ticket_id, error="请选择要暂停或恢复的承诺", status_code=422, form=form)
    runtime = get_runtime()
    change = pledges.pause_on_ticket if pausing else pledges.resume_on_ticket
    return _act(request, member, ticket_id, "已暂停计时" if pausing else "已恢复计时", change, ticket_id, kind,
                reason=reason, staff_id=member.staff.id, now=runtime.clock.now(), policies=runtime.policies,
                tz=runtime.settings.tz, form=form)


@router.post("/tickets/{ticket_id}/pause", response_model=None)
def pause(request: Request, ticket_id: int, member: FormMemberDep, kind: Annotated[str, Form()] = "",
          reason: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    return _clock_change(request, member, ticket_id, kind, reason, pausing=True)


@router.post("/tickets/{ticket_id}/resume", response_model=None)
def resume(request: Request, ticket_id: int, member: FormMemberDep, kind: Annotated[str, Form()] = "",
           reason: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    return _clock_change(request, member, ticket_id, kind, reason, pausing=False)


@router.post("/tickets/{ticket_id}/assign", response_model=None)
def assign(request: Request, ticket_id: int, member: FormMemberDep, kind: Annotated[str, Form()] = "",
           staff_id: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    allowed(member, access.SUPERVISORS)  # as POST /tickets/{id}/assign
    if kind not in PledgeKind.__members__.values():
        return _ticket(request, member, ticket_id, error="请选择要改派的承诺", status_code=422)
    if not staff_id.strip().isdigit():
        return _ticket(request, member, ticket_id, error="请选择接手的员工", status_code=422)
    runtime = get_runtime()
    return _act(request, member, ticket_id, "已改派", pledges.assign, ticket_id, kind, int(staff_id),
                now=runtime.clock.now(), policies=runtime.policies, tz=runtime.settings.tz,
                by_staff_id=member.staff.id)


@router.post("/tickets/{ticket_id}/merge", response_model=None)
def merge(request: Request, ticket_id: int, member: FormMemberDep,
          target: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    allowed(member, access.REPLIERS)  # as POST /tickets/{id}/merge
    form = {"merge_target": target}
    number = target.strip().lstrip("#＃").strip()
    if not number.isdigit() or len(number) > 9:
        return _ticket(request, member, ticket_id, error="请填写要并入的目标工单号（数字，如 12）", status_code=422,
                       form=form)
    runtime = get_runtime()
    return _act(request, member, ticket_id, f"已合并到工单 #{int(number)}", intake.merge_tickets, ticket_id,
                int(number), member.staff, now=runtime.clock.now(), policies=runtime.policies,
                tz=runtime.settings.tz, form=form, missing_is_input=True)


@router.post("/tickets/{ticket_id}/learn", response_model=None)
def learn(request: Request, ticket_id: int, member: FormMemberDep, entry_id: Annotated[str, Form()] = "",
          question: Annotated[str, Form()] = "",
          answer: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    allowed(member, access.REPLIERS)  # as POST /knowledge/from-ticket/{id}
    runtime = get_runtime()
    form = {"entry_id": entry_id, "question": question, "answer": answer}
    if runtime.knowledge is None:
        return _ticket(request, member, ticket_id, error="知识库未加载，暂不能新建条目", status_code=503, form=form)
    today = runtime.clock.now().astimezone(runtime.settings.tz).date()
    answered = _act(request, member, ticket_id, f"已加入知识库条目 {entry_id.strip()}", knowledge.learn_from_ticket,
                    ticket_id, entry_id.strip(), question=question, answer=answer or None,
                    staff_id=member.staff.id, now=runtime.clock.now(), today=today, form=form)
    runtime.knowledge.refresh()  # this instance answers with it at once
    return answered
