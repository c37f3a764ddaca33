"""The knowledge base pages: entries by column with search, an entry's editor, the box that shows what
the bot would say to any text, and the recent questions a person had to take, each a click away from
teaching the base. Every change goes through `bot.services.knowledge`, as the API's do, and shows in
this instance's answers at once (the others' within `knowledge_refresh_seconds`)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from api.console.web import FormMemberDep, Member, MemberDep, allowed, back_to, render
from bot import texts
from bot.models import StaffMember
from bot.runtime import Runtime, get_runtime
from bot.services import access, inquiries, intake, knowledge
from bot.services.errors import Conflict, NotFound, ServiceError
from bot.services.knowledge import COLUMN_NAMES, PERSONAL_FIELDS, KnowledgeBase

router = APIRouter()
HANDOVER_DAYS = 30  # how far back the hand-over list looks
HANDOVERS_SHOWN = 50
_SEPARATORS = re.compile(r"[\s,，、;；]+")


def _base(runtime: Runtime) -> KnowledgeBase:
    if runtime.knowledge is None:  # built when the service starts
        raise RuntimeError("the knowledge base is not loaded")
    return runtime.knowledge


def _when(runtime: Runtime) -> dict[str, Any]:
    now = runtime.clock.now()
    return {"now": now, "today": now.astimezone(runtime.settings.tz).date()}


_SUPPLY_ASKS = frozenset({inquiries.Ask.SUMMARY, inquiries.Ask.QUOTA, inquiries.Ask.WINDOW, inquiries.Ask.LAUNCHES})


def _try(text: str) -> dict[str, Any]:
    """What the bot would do with `text` from a retailer in a group, with no ticket to join: intake's verdict
    (the same `intake.read` the group's path takes), what it would post, and the knowledge base's decision, why,
    and the ranked entries."""
    text = text.strip()[:500]
    if not text:
        return {"ask": ""}
    runtime = get_runtime()
    base = _base(runtime)
    reading = intake.read(text, base)
    needs_visit = reading.needs_visit(runtime.policies, text)
    reply = reading.reply(needs_visit=needs_visit)
    result, why = base.index.explain(text)
    said = None
    if reply == intake.Reply.ANSWERED and result.best is not None:
        said = result.best.answer
    elif reply == intake.Reply.FIRST_AID and result.best is not None:
        said = texts.first_aid(result.best.answer)
    elif reply == intake.Reply.SUGGESTED:
        said = texts.suggestions([match.entry.question for match in result.matches])
    return {"ask": text, "reply": reply, "analysis": reading.analysis,
            "category": texts.CATEGORY_LABELS[reading.category], "needs_visit": needs_visit,
            "supply_ask": intake.may_be_inquiry(text, reading.analysis, quoting=False)
            and inquiries.classify(text) in _SUPPLY_ASKS, "result": result, "why": why, "said": said}


@router.get("/knowledge", response_class=HTMLResponse)
def entries_page(request: Request, member: MemberDep, column: str = "", q: str = "", retired: bool = False,
                 ask: str = "") -> HTMLResponse:
    """Any staff member may read the base and try it, as in the API; curators edit it."""
    runtime = get_runtime()
    chosen = column if column in COLUMN_NAMES else ""
    words = q.strip()[:100]
    rows = runtime.unit_of_work(knowledge.list_entries, column=chosen or None, q=words or None, retired=retired)
    return render(request, "knowledge.html", member, rows=rows, column=chosen, q=words, retired=retired,
                  columns=COLUMN_NAMES, done=request.query_params.get("done"), **_try(ask))


@router.get("/knowledge/try", response_class=HTMLResponse)
def try_box(request: Request, member: MemberDep, ask: str = "") -> HTMLResponse:
    """The box's answer alone, for htmx."""
    return render(request, "_knowledge_try.html", member, **_try(ask))


def _editor(request: Request, member: Member, *, entry_id: str | None, error: str | None = None,
            status_code: int = 200, form: dict[str, str] | None = None, ask: str = "") -> HTMLResponse:
    """An entry's page (or the new-entry form, `entry_id` None); after a refusal, what was typed."""
    runtime = get_runtime()
    row = None
    if entry_id is not None:
        try:
            row = runtime.unit_of_work(knowledge.stored_row, entry_id)
        except NotFound as missing:
            return render(request, "error.html", member, status_code=404, message=str(missing))
    if form is None and row is not None:
        form = {"question": row.question, "similar": "\n".join(row.similar), "keywords": " ".join(row.keywords),
                "answer": row.answer, "personal_answer": row.personal_answer or "", "revision": str(row.revision)}
    editor = runtime.unit_of_work(_name_of, row.updated_by) if row is not None and row.updated_by else None
    return render(request, "knowledge_entry.html", member, status_code=status_code, row=row, form=form or {},
                  error=error, editor=editor, columns=COLUMN_NAMES, fields=PERSONAL_FIELDS,
                  may_edit=member.may(access.REPLIERS), done=request.query_params.get("done"), **_try(ask))


def _name_of(session: Session, staff_id: int) -> str | None:
    staff = session.get(StaffMember, staff_id)
    return staff.name if staff else None


def _typed(question: str, similar: str, keywords: str, answer: str, personal_answer: str) -> dict[str, Any]:
    """The form's fields as the service takes them: one wording a line, keywords split at spaces or commas."""
    return {"question": question, "similar": similar.splitlines(),
            "keywords": [word for word in _SEPARATORS.split(keywords) if word], "answer": answer,
            "personal_answer": personal_answer}


@router.get("/knowledge/new", response_class=HTMLResponse)
def new_entry_page(request: Request, member: MemberDep) -> HTMLResponse:
    allowed(member, access.REPLIERS)
    return _editor(request, member, entry_id=None)


@router.post("/knowledge/new", response_model=None)
def create(request: Request, member: FormMemberDep, column: Annotated[str, Form()] = "",
           name: Annotated[str, Form()] = "", question: Annotated[str, Form()] = "",
           similar: Annotated[str, Form()] = "", keywords: Annotated[str, Form()] = "",
           answer: Annotated[str, Form()] = "",
           personal_answer: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    """A new entry; its name may be left to us (`<column>.new-<n>`)."""
    allowed(member, access.REPLIERS)
    form = {"column": column, "name": name, "question": question, "similar": similar, "keywords": keywords,
            "answer": answer, "personal_answer": personal_answer}
    runtime = get_runtime()
    try:
        entry_id = f"{column}.{name.strip()}" if name.strip() else runtime.unit_of_work(knowledge.free_id, column)
        entry = _base(runtime).change(runtime.unit_of_work, knowledge.create_entry,
                                      {"id": entry_id, **_typed(question, similar, keywords, answer, personal_answer)},
                                      staff_id=member.staff.id, **_when(runtime))
    except ServiceError as refused:
        return _editor(request, member, entry_id=None, error=str(refused), status_code=_status(refused), form=form)
    return back_to(f"/console/knowledge/entries/{entry.id}", f"已新建知识条目 {entry.id}")


def _status(refused: ServiceError) -> int:
    return 409 if isinstance(refused, Conflict) else 422


@router.get("/knowledge/entries/{entry_id}", response_class=HTMLResponse)
def entry_page(request: Request, entry_id: str, member: MemberDep, ask: str = "") -> HTMLResponse:
    return _editor(request, member, entry_id=entry_id, ask=ask)


@router.post("/knowledge/entries/{entry_id}", response_model=None)
def save(request: Request, entry_id: str, member: FormMemberDep, question: Annotated[str, Form()] = "",
         similar: Annotated[str, Form()] = "", keywords: Annotated[str, Form()] = "",
         answer: Annotated[str, Form()] = "", personal_answer: Annotated[str, Form()] = "",
         revision: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    """Saved only over the revision the form was opened on: a colleague's edit in between is not undone."""
    allowed(member, access.REPLIERS)
    form = {"question": question, "similar": similar, "keywords": keywords, "answer": answer,
            "personal_answer": personal_answer, "revision": revision}
    runtime = get_runtime()
    try:
        _base(runtime).change(runtime.unit_of_work, knowledge.update_entry, entry_id,
                              _typed(question, similar, keywords, answer, personal_answer), staff_id=member.staff.id,
                              revision=int(revision) if revision.isdigit() else None, **_when(runtime))
    except NotFound as missing:
        return render(request, "error.html", member, status_code=404, message=str(missing))
    except ServiceError as refused:
        return _editor(request, member, entry_id=entry_id, error=str(refused), status_code=_status(refused),
                       form=form)
    return back_to(f"/console/knowledge/entries/{entry_id}", "已保存，机器人现在就按新内容回答")


@router.post("/knowledge/entries/{entry_id}/{action}", response_model=None)
def retire(request: Request, entry_id: str, action: str, member: FormMemberDep) -> HTMLResponse | RedirectResponse:
    """停用 (`retire`): the bot no longer answers from it; 恢复 (`restore`) brings it back."""
    allowed(member, access.REPLIERS)
    if action not in ("retire", "restore"):
        return render(request, "error.html", member, status_code=404, message=f"没有「{action}」这个操作")
    runtime = get_runtime()
    try:
        _base(runtime).change(runtime.unit_of_work, knowledge.update_entry, entry_id,
                              {"retired": action == "retire"}, staff_id=member.staff.id, **_when(runtime))
    except NotFound as missing:
        return render(request, "error.html", member, status_code=404, message=str(missing))
    except ServiceError as refused:
        return _editor(request, member, entry_id=entry_id, error=str(refused), status_code=_status(refused))
    return back_to(f"/console/knowledge/entries/{entry_id}",
                   "已停用：机器人不再用它回答" if action == "retire" else "已恢复：机器人重新用它回答")


@router.get("/knowledge/export", response_model=None)
def export(member: MemberDep) -> Response:
    """Every entry as its YAML file, zipped: the seed of another store, or the files kept in version control."""
    runtime = get_runtime()
    day = runtime.clock.now().astimezone(runtime.settings.tz).strftime("%Y%m%d")
    return Response(runtime.unit_of_work(knowledge.export_zip), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="knowledge-{day}.zip"'})


# -- the questions a person had to take -----------------------------------------------------------

def _handovers(request: Request, member: Member, *, error: str | None = None, status_code: int = 200,
               form: dict[str, str] | None = None) -> HTMLResponse:
    allowed(member, access.REPLIERS)
    runtime = get_runtime()
    rows = runtime.unit_of_work(knowledge.recent_handovers, member.staff,
                                since=runtime.clock.now() - timedelta(days=HANDOVER_DAYS), limit=HANDOVERS_SHOWN,
                                public_numbers=runtime.settings.public_numbers)
    index = _base(runtime).index
    guesses = {row.ticket_id: [match.entry for match in index.rank(row.text, limit=3)] for row in rows}
    entries = sorted(index.entries, key=lambda entry: entry.id)
    return render(request, "knowledge_handovers.html", member, status_code=status_code, rows=rows, guesses=guesses,
                  entries=entries, columns=COLUMN_NAMES, days=HANDOVER_DAYS, error=error, form=form or {},
                  done=request.query_params.get("done"))


@router.get("/knowledge/handovers", response_class=HTMLResponse)
def handovers_page(request: Request, member: MemberDep) -> HTMLResponse:
    return _handovers(request, member)


def _learn(request: Request, member: Member, ticket_id: int, entry_id: str, form: dict[str, str], done: str,
           **kwargs: Any) -> HTMLResponse | RedirectResponse:
    runtime = get_runtime()
    try:
        _base(runtime).change(runtime.unit_of_work, knowledge.learn_from_ticket, ticket_id, entry_id,
                              staff_id=member.staff.id, **_when(runtime), **kwargs)
    except ServiceError as refused:
        status_code = 404 if isinstance(refused, NotFound) else _status(refused)
        return _handovers(request, member, error=f"工单 #{ticket_id}：{refused}", status_code=status_code,
                          form={**form, "ticket": str(ticket_id)})
    return back_to("/console/knowledge/handovers", done)


@router.post("/knowledge/handovers/{ticket_id}/wording", response_model=None)
def add_wording(request: Request, ticket_id: int, member: FormMemberDep, entry_id: Annotated[str, Form()] = "",
                question: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    """The retailer's words (as shown, or as the curator trimmed them) become a wording of an entry."""
    allowed(member, access.REPLIERS)
    form = {"entry_id": entry_id, "question": question}
    runtime = get_runtime()
    if not runtime.unit_of_work(knowledge.entry_exists, entry_id):
        return _handovers(request, member, error=f"工单 #{ticket_id}：请选择一个已有的知识条目", status_code=422,
                          form={**form, "ticket": str(ticket_id)})
    return _learn(request, member, ticket_id, entry_id, form, f"工单 #{ticket_id} 的问法已加入 {entry_id}",
                  question=question)


@router.post("/knowledge/handovers/{ticket_id}/entry", response_model=None)
def new_from_ticket(request: Request, ticket_id: int, member: FormMemberDep, column: Annotated[str, Form()] = "",
                    name: Annotated[str, Form()] = "", question: Annotated[str, Form()] = "",
                    answer: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    """A new entry from the ticket: its question, the agent's reply as the answer (both as edited here)."""
    allowed(member, access.REPLIERS)
    form = {"column": column, "name": name, "question": question, "answer": answer}
    runtime = get_runtime()
    try:
        entry_id = f"{column}.{name.strip()}" if name.strip() else runtime.unit_of_work(knowledge.free_id, column)
    except ServiceError as refused:
        return _handovers(request, member, error=f"工单 #{ticket_id}：{refused}", status_code=422,
                          form={**form, "ticket": str(ticket_id)})
    return _learn(request, member, ticket_id, entry_id, form, f"已用工单 #{ticket_id} 新建知识条目 {entry_id}",
                  question=question, answer=answer, new_entry=True)
