"""The knowledge base for staff: what the bot would say to a question, and a reload after edits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from api.deps import AdminDep, CurrentStaff, RuntimeDep

router = APIRouter(prefix="/knowledge", tags=["knowledge"])


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
    result = runtime.knowledge.index.decide(q)
    return SearchOut(
        decision=result.decision,
        entries=[RankedEntry(id=m.entry.id, column=m.entry.column, question=m.entry.question, score=m.score,
                             similarity=m.similarity) for m in result.matches],
        answer=result.best.answer if result.decision == "answer" else None)


@router.post("/reload", response_model=ReloadOut)
def reload(runtime: RuntimeDep, _: AdminDep):
    """Read the entry files again, without a restart; a broken file is refused and nothing changes."""
    return ReloadOut(entries=runtime.knowledge.reload())
