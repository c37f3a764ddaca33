"""Live updates: open console pages are told when tickets change, as server-sent events.

Every change to a ticket (opened, a follow-up, a claim, a reply, a warning, a breach) appends to its
trail (`ticket_event`), so the trail is the change feed. One poller per process reads what was
appended since it last looked, a few times a second and only while a page listens, and tells every
open page. A change made by another instance sharing the PostgreSQL database is in the same table,
so it shows the same way.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select

from api.console.web import MemberDep
from bot.models import TicketEvent, table_of
from bot.runtime import Runtime, get_runtime

router = APIRouter()
log = logging.getLogger(__name__)
POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15
_EVENTS = table_of(TicketEvent)


class TicketFeed:
    def __init__(self) -> None:
        self._listeners: set[asyncio.Queue[list[int]]] = set()
        self._poller: asyncio.Task[None] | None = None

    def _newest(self, runtime: Runtime) -> int:
        with runtime.engine.connect() as connection:
            return connection.execute(select(func.coalesce(func.max(_EVENTS.c.id), 0))).scalar_one()

    def _since(self, runtime: Runtime, last: int) -> tuple[int, list[int]]:
        with runtime.engine.connect() as connection:
            rows = connection.execute(select(_EVENTS.c.id, _EVENTS.c.ticket_id).where(_EVENTS.c.id > last)
                                      .order_by(_EVENTS.c.id).limit(1000)).all()
        if not rows:
            return last, []
        return rows[-1].id, sorted({row.ticket_id for row in rows})

    async def _poll(self, runtime: Runtime) -> None:
        last = await asyncio.to_thread(self._newest, runtime)
        while self._listeners:
            await asyncio.sleep(POLL_SECONDS)
            try:
                last, changed = await asyncio.to_thread(self._since, runtime, last)
            except Exception:  # the database is away: the pages wait, and catch up when it is back
                log.warning("console live feed: cannot read ticket events", exc_info=True)
                continue
            if changed:
                for listener in self._listeners:
                    listener.put_nowait(changed)

    def listen(self) -> asyncio.Queue[list[int]]:
        listener: asyncio.Queue[list[int]] = asyncio.Queue()
        self._listeners.add(listener)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(get_runtime()), name="console-live-feed")
        return listener

    def leave(self, listener: asyncio.Queue[list[int]]) -> None:
        self._listeners.discard(listener)


feed = TicketFeed()


@router.get("/events", response_model=None)
async def events(request: Request, member: MemberDep) -> StreamingResponse:
    """`event: tickets` with the changed ticket ids; a comment now and then keeps proxies from closing it."""
    listener = feed.listen()

    async def stream() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            while not await request.is_disconnected():
                try:
                    changed = await asyncio.wait_for(listener.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"event: tickets\ndata: {json.dumps(changed)}\n\n"
        finally:
            feed.leave(listener)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
