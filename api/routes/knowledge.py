"""The knowledge base for staff: what the bot would say, and curation of the stored entries (live at once on
this instance, on the others at their next check)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field, StringConstraints

from api.deps import AdminDep, CurrentStaff, RuntimeDep, require
from api.schemas import Input
from bot.fields import Id
from bot.models import StaffMember
from bot.runtime import Runtime
from bot.services import access, knowledge
from bot.services.knowledge import KnowledgeBase

router = APIRouter(prefix="/knowledge", tags=["knowledge"])


def _base(runtime: Runtime) -> KnowledgeBase:
    if runtime.knowledge is None:  # loaded when the service starts
        raise RuntimeError("the knowledge base is not loaded")
    return runtime.knowledge


_ENTRY_ID = r"^(terminal|training|marketing|delivery|monopoly|general)\.[a-z0-9-]{2,40}$"


class RankedEntry(BaseModel):
    id: str
    column: str
    question: str
    score: float
    similarity: float


class SearchOut(BaseModel):
    decision: str
    entries: list[RankedEntry]
    answer: str | None


class ReloadOut(BaseModel):
    entries: int


@router.get("/search", response_model=SearchOut)
def search(runtime: RuntimeDep, _: CurrentStaff, q: Annotated[str, Query(min_length=1, max_length=500)]):
    """The decision (`answer`, `suggest` or `handover`) and the ranked entries with their scores."""
    result = _base(runtime).index.decide(q)
    return SearchOut(
        decision=result.decision,
        entries=[RankedEntry(id=m.entry.id, column=m.entry.column, question=m.entry.question, score=m.score,
                             similarity=m.similarity) for m in result.matches],
        answer=result.best.answer if result.decision == "answer" and result.best is not None else None)


@router.post("/reload", response_model=ReloadOut)
def reload(runtime: RuntimeDep, _: AdminDep):
    """Read the thresholds and out-of-scope files and the stored entries again, without a restart; a broken
    file is refused and nothing changes."""
    return ReloadOut(entries=_base(runtime).reload())


class EntryOut(BaseModel):
    id: str
    column: str
    question: str
    similar: list[str]
    keywords: list[str]
    answer: str
    personal_answer: str | None
    reviewed: date
    retired: bool


Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]


class EntryPatch(Input):
    nullable = frozenset({"personal_answer"})

    question: Line | None = None
    similar: list[Line] | None = Field(None, min_length=1)
    keywords: list[Annotated[str, StringConstraints(max_length=20)]] | None = None
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=600)] | None = None
    personal_answer: Annotated[str, StringConstraints(max_length=600)] | None = None
    retired: bool | None = None


class EntryIn(EntryPatch):
    id: Annotated[str, StringConstraints(pattern=_ENTRY_ID)]
    question: Line
    similar: list[Line] = Field(default_factory=list)
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=600)]


class WordingIn(Input):
    text: Line


class FromTicketIn(Input):
    """`question` and `answer` left out: the ticket's request and the agent's latest reply."""

    entry_id: Annotated[str, StringConstraints(pattern=_ENTRY_ID)]
    question: Line | None = None
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=600)] | None = None


Curator = Annotated[StaffMember, Depends(require(*access.REPLIERS))]


def _out(entry) -> EntryOut:
    return EntryOut.model_validate(entry.model_dump())


def _when(runtime: Runtime) -> dict:
    now = runtime.clock.now()
    return {"now": now, "today": now.astimezone(runtime.settings.tz).date()}


@router.get("/entries/{entry_id}", response_model=EntryOut)
def read_entry(entry_id: str, runtime: RuntimeDep, _: CurrentStaff):
    return _out(runtime.unit_of_work(knowledge.get_entry, entry_id))


@router.post("/entries", response_model=EntryOut, status_code=status.HTTP_201_CREATED)
def create_entry(body: EntryIn, runtime: RuntimeDep, staff: Curator):
    """A new topic, live at once."""
    return _out(_base(runtime).change(runtime.unit_of_work, knowledge.create_entry, body.model_dump(exclude_none=True),
                                      staff_id=staff.id, **_when(runtime)))


@router.patch("/entries/{entry_id}", response_model=EntryOut)
def update_entry(entry_id: str, body: EntryPatch, runtime: RuntimeDep, staff: Curator):
    """Edit or retire (`retired: true`) an entry."""
    return _out(_base(runtime).change(runtime.unit_of_work, knowledge.update_entry, entry_id,
                                      body.model_dump(exclude_unset=True), staff_id=staff.id, **_when(runtime)))


@router.post("/entries/{entry_id}/similar", response_model=EntryOut)
def add_wording(entry_id: str, body: WordingIn, runtime: RuntimeDep, staff: Curator):
    """A retailer's own wording becomes another similar question."""
    return _out(_base(runtime).change(runtime.unit_of_work, knowledge.add_similar, entry_id, body.text,
                                      staff_id=staff.id, **_when(runtime)))


@router.post("/from-ticket/{ticket_id}", response_model=EntryOut)
def from_ticket(ticket_id: Id, body: FromTicketIn, runtime: RuntimeDep, staff: Curator):
    """The ticket's question (or `question`) joins an entry; if the entry does not exist yet, the
    agent's latest reply on the ticket (or `answer`) becomes its answer. The ticket's trail says so."""
    return _out(_base(runtime).change(runtime.unit_of_work, knowledge.learn_from_ticket, ticket_id, body.entry_id,
                                      question=body.question, answer=body.answer, staff_id=staff.id,
                                      **_when(runtime)))
