"""What a running service holds: settings, the store and the clock.

Units of work from the event loop go through one writer task, in submission
order, so a retailer's burst of messages is threaded one at a time instead
of racing into several tickets; the outbox's claims and records (`run_first`)
go ahead of the chat messages still queued. The writer commits whatever has queued up
in one transaction (group commit: one WAL flush for many messages, measured
in bench/intake_load.py). On SQLite it runs on the loop itself, without a GIL
hand-off to a worker thread; on a database server it runs on a thread of its own,
so that the loop keeps serving while it waits on the server's round trips. While
the database is away, the waits between retries are asynchronous, so the loop
keeps serving the WebSocket.

A unit of work that queued outbox rows wakes the sender once it commits, from
the loop or from a worker thread (FastAPI's sync routes), so an
acknowledgement goes out at once instead of at the sender's next poll. While
this process's sender runs, replies are handed to it in memory, already
claimed (`outbox.HandOff`): it need not claim them from the store.

The knowledge index may be built in a worker thread after the service is healthy
(`build_knowledge`): whoever reads `knowledge` meanwhile waits for it, so the first
question after a start is answered from the whole knowledge base, only later.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import itertools
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session
from tenacity import (
    AsyncRetrying,
    Retrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db import make_engine, session_scope
from bot.models import OutboxMessage
from bot.policy import Policies, load_policies
from bot.services.knowledge import KnowledgeBase
from bot.services.outbox import ENQUEUED, HAND_OFF, HandOff

if TYPE_CHECKING:
    from bot.webhooks import WebhookTransport

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)
MAX_BATCH = 16  # bounds the wait a message adds for the others in its commit
# Turns of the loop the writer lets pass before it commits: an event takes several (the WebSocket, NoneBot's
# tasks, the plugin) to reach the queue. bench/intake_load.py at 200 requests/s, in paired runs: 1 turn gave 1.37
# jobs a commit, 4 turns 1.5 and 8 turns 1.53, CPU per request 8 to 16 % lower; an idle loop passes 8 in well
# under a millisecond.
GATHER_TURNS = 8
HAND_OFF_ROOM = 20  # replies the sender holds in memory at most


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict
    future: asyncio.Future = field(repr=False)


def is_transient(error: BaseException) -> bool:
    """A lost connection or a locked SQLite file, not a bad statement."""
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


class Runtime:
    def __init__(self, settings: Settings, engine: Engine | None = None,
                 clock: Clock | None = None, outage_seconds: float = 30,
                 policies: Policies | None = None) -> None:
        self.settings = settings
        self.policies = policies or load_policies(settings.policy_file)
        self._knowledge: KnowledgeBase | None = None  # loaded by the service at start
        self._knowledge_built: concurrent.futures.Future[KnowledgeBase] | None = None
        self.engine = engine or make_engine(settings.database_url)
        self.clock = clock or SystemClock()
        self._retry_policy: dict[str, Any] = dict(
            retry=retry_if_exception(is_transient),
            wait=wait_exponential(multiplier=0.05, max=2),
            stop=stop_after_delay(outage_seconds),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )
        self._jobs: asyncio.PriorityQueue[tuple[int, int, _Job]] | None = None
        self._submitted = itertools.count()  # ties keep submission order
        self._writer: asyncio.Task | None = None
        # A server's round trips would hold the loop still; SQLite's statements are quicker than a thread hand-off.
        # One writer thread, not several: more took more CPU a request (README.md, "Layout").
        self._threaded = self.engine.dialect.name != "sqlite"
        self._writer_thread: concurrent.futures.ThreadPoolExecutor | None = None
        self._outbox_wake: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None
        self.sender_running = False  # set by the sender: replies are handed to it (see the module's docstring)
        self._handed_off: collections.deque[OutboxMessage] = collections.deque()
        self._queued = False  # rows were queued in the store since the sender last asked
        self.last_sends: dict[str, datetime] = {}  # bot account -> its last send from this process (health)
        self.robots: WebhookTransport | None = None  # the staff alert robots, set at start (bot/app.py)

    @property
    def knowledge(self) -> KnowledgeBase | None:
        """The knowledge index; while `build_knowledge` is still at work, this waits for it (and raises
        what the build raised)."""
        if self._knowledge is None and self._knowledge_built is not None:
            self._knowledge = self._knowledge_built.result()
        return self._knowledge

    @knowledge.setter
    def knowledge(self, base: KnowledgeBase | None) -> None:
        self._knowledge, self._knowledge_built = base, None

    def build_knowledge(self, build: Callable[[], KnowledgeBase]) -> concurrent.futures.Future[KnowledgeBase]:
        """Run `build` in a worker thread; `knowledge` (and `knowledge_ready`) wait for its result."""
        built: concurrent.futures.Future[KnowledgeBase] = concurrent.futures.Future()

        def work() -> None:
            try:
                built.set_result(build())
            except BaseException as error:
                built.set_exception(error)

        self._knowledge, self._knowledge_built = None, built
        threading.Thread(target=work, name="knowledge-build", daemon=True).start()
        return built

    async def knowledge_ready(self) -> KnowledgeBase | None:
        """`knowledge` from the event loop: awaits a build still under way instead of blocking the loop."""
        if self._knowledge is None and self._knowledge_built is not None:
            await asyncio.wrap_future(self._knowledge_built)
        return self.knowledge

    def take_handed_off(self) -> list[OutboxMessage]:
        """The replies handed to the sender since it last asked, oldest first."""
        rows = []
        while self._handed_off:
            rows.append(self._handed_off.popleft())
        return rows

    def hand_back(self, rows: list[OutboxMessage]) -> None:
        """Replies the sender took but could not send this pass: first in line for the next."""
        self._handed_off.extendleft(reversed(rows))

    def take_queued(self) -> bool:
        """Whether rows were queued in the store (not handed off) since the sender last asked."""
        queued, self._queued = self._queued, False
        return queued

    def outbox_wakeup(self) -> asyncio.Event:
        """The sender waits on this: set once a unit of work that queued outbox rows has committed."""
        loop = asyncio.get_running_loop()
        if self._outbox_wake is None or self._outbox_wake[0] is not loop:
            self._outbox_wake = (loop, asyncio.Event())
        return self._outbox_wake[1]

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with session_scope(self.engine) as session:
            if self.sender_running:
                # held here and in the sender's pass: at most a minute's sends, each out inside its lease
                room = min(HAND_OFF_ROOM, self.settings.outbox_rate_per_minute // 2) - len(self._handed_off)
                session.info[HAND_OFF] = HandOff(self.settings.worker, max(0, room))
            yield session

    def _committed(self, session: Session) -> None:
        hand_off: HandOff | None = session.info.get(HAND_OFF)
        handed = bool(hand_off and hand_off.rows)
        if hand_off is not None:
            self._handed_off.extend(hand_off.rows)  # a deque: safe from a worker thread
        if session.info.get(ENQUEUED):
            self._queued = True
        elif not handed:
            return
        wake = self._outbox_wake
        if wake is None:
            return
        loop, event = wake
        try:
            loop.call_soon_threadsafe(event.set)  # this may be a worker thread; the event is the loop's
        except RuntimeError:  # that loop is closed: no sender is waiting on it
            pass

    def _attempt(self, fn: Callable[Concatenate[Session, P], T], *args: P.args,
                 **kwargs: P.kwargs) -> T:
        with self._session() as session:
            result = fn(session, *args, **kwargs)
        self._committed(session)
        return result

    def unit_of_work(self, fn: Callable[Concatenate[Session, P], T], *args: P.args,
                     **kwargs: P.kwargs) -> T:
        """Run `fn(session, ...)` in one transaction, retried while the database is away."""
        try:
            return self._attempt(fn, *args, **kwargs)
        except Exception as error:
            self._raise_unless_transient(error)
        return Retrying(**self._retry_policy)(self._attempt, fn, *args, **kwargs)

    async def run(self, fn: Callable[Concatenate[Session, P], T], *args: P.args,
                  **kwargs: P.kwargs) -> T:
        """The same from the event loop, through the one writer (see the module's docstring)."""
        return await self._submit(1, _Job(fn, args, kwargs, asyncio.get_running_loop().create_future()))

    async def run_first(self, fn: Callable[Concatenate[Session, P], T], *args: P.args,
                        **kwargs: P.kwargs) -> T:
        """As `run`, ahead of the queued chat messages: the outbox's claims and records, so an answer
        already decided is not kept waiting behind a burst of new questions."""
        return await self._submit(0, _Job(fn, args, kwargs, asyncio.get_running_loop().create_future()))

    async def _submit(self, priority: int, job: _Job) -> Any:
        if self._writer is None or self._writer.done():
            self._jobs = asyncio.PriorityQueue()
            self._writer = asyncio.create_task(self._write_forever(), name="store-writer")
        assert self._jobs is not None
        self._jobs.put_nowait((priority, next(self._submitted), job))
        return await job.future

    async def _write_forever(self) -> None:
        jobs = self._jobs
        assert jobs is not None  # set by `run` before it starts the writer
        while True:
            batch = [(await jobs.get())[2]]
            for _ in range(GATHER_TURNS):  # what is being read with this one joins its commit
                await asyncio.sleep(0)
            while not jobs.empty() and len(batch) < MAX_BATCH:
                batch.append(jobs.get_nowait()[2])
            # a caller that gave up before its unit began (shutdown cancels the sender) wants nothing done: a claim
            # run for a sender already gone would hold its messages until their lease ran out
            batch = [job for job in batch if not job.future.cancelled()]
            if batch:
                await self._commit(batch)

    async def _attempt_batch_here(self, batch: list[_Job]) -> list[Any]:
        """A batch on the loop (SQLite), or on the writer's own thread while the loop serves the WebSockets."""
        if not self._threaded:
            return self._attempt_batch(batch)
        if self._writer_thread is None:
            self._writer_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="store-writer")
        return await asyncio.get_running_loop().run_in_executor(self._writer_thread, self._attempt_batch, batch)

    def _attempt_batch(self, batch: list[_Job]) -> list[Any]:
        results = []
        with self._session() as session:
            for job in batch:
                results.append(job.fn(session, *job.args, **job.kwargs))
                session.flush()
                session.expunge_all()  # each job starts from the database, not a neighbour's objects
        self._committed(session)
        return results

    async def _commit(self, batch: list[_Job]) -> None:
        try:
            try:
                results = await self._attempt_batch_here(batch)
            except Exception as error:
                self._raise_unless_transient(error)
                async def attempt_batch() -> list[Any]:  # AsyncRetrying awaits what it calls
                    return await self._attempt_batch_here(batch)

                results = await AsyncRetrying(**self._retry_policy)(attempt_batch)
        except Exception:
            if len(batch) == 1:
                _settle(batch[0], error=sys.exc_info()[1])
                return
            for job in batch:  # one failing job must not sink the others: each alone
                try:
                    _settle(job, result=await self._run_alone(job))
                except Exception as error:
                    _settle(job, error=error)
            return
        for job, result in zip(batch, results, strict=True):
            _settle(job, result=result)

    async def _run_alone(self, job: _Job) -> Any:
        try:
            return self._attempt(job.fn, *job.args, **job.kwargs)
        except Exception as error:
            self._raise_unless_transient(error)

        async def attempt() -> Any:  # AsyncRetrying awaits what it calls
            return self._attempt(job.fn, *job.args, **job.kwargs)

        return await AsyncRetrying(**self._retry_policy)(attempt)

    @staticmethod
    def _raise_unless_transient(error: Exception) -> None:
        # The first try runs bare: the retry machinery costs more than the unit itself.
        if not is_transient(error):
            raise error
        log.warning("database unavailable, retrying: %s", error)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
        if self._writer_thread is not None:
            self._writer_thread.shutdown(wait=True)
        self.engine.dispose()


def _settle(job: _Job, *, result: Any = None, error: BaseException | None = None) -> None:
    if job.future.done():  # the caller gave up (its task was cancelled)
        return
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(result)


_current: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    global _current
    _current = runtime


def current_runtime() -> Runtime | None:
    """The runtime set now, if any (a scratch runtime started beside it can put it back)."""
    return _current


def get_runtime() -> Runtime:
    if _current is None:
        raise RuntimeError("the service runtime is not started")
    return _current
