"""What a running service holds: settings, the store and the clock.

A chat handler's unit of work runs on the event loop itself, without an
await inside it: a retailer's burst of messages is threaded one at a time
in arrival order instead of racing into several tickets, and no GIL
hand-off to a worker thread slows every message down (measured: 7x). Each
unit is a millisecond or two; while the database is away, the waits between
retries are asynchronous, so the loop keeps serving the WebSocket.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

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

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)


def _is_transient(error: BaseException) -> bool:
    """A lost connection or a locked SQLite file, not a bad statement."""
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


class Runtime:
    def __init__(self, settings: Settings, engine: Engine | None = None,
                 clock: Clock | None = None, outage_seconds: float = 30) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.database_url)
        self.clock = clock or SystemClock()
        self._retry_policy = dict(
            retry=retry_if_exception(_is_transient),
            wait=wait_exponential(multiplier=0.05, max=2),
            stop=stop_after_delay(outage_seconds),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )

    def _attempt(self, fn: Callable[Concatenate[Session, P], T], *args: P.args,
                 **kwargs: P.kwargs) -> T:
        with session_scope(self.engine) as session:
            return fn(session, *args, **kwargs)

    def unit_of_work(self, fn: Callable[Concatenate[Session, P], T], *args: P.args,
                     **kwargs: P.kwargs) -> T:
        """Run `fn(session, ...)` in one transaction, retried while the database is away."""
        return Retrying(**self._retry_policy)(self._attempt, fn, *args, **kwargs)

    async def run(self, fn: Callable[Concatenate[Session, P], T], *args: P.args,
                  **kwargs: P.kwargs) -> T:
        """The same from the event loop; waits between retries do not block it."""
        return await AsyncRetrying(**self._retry_policy)(self._attempt, fn, *args, **kwargs)

    def close(self) -> None:
        self.engine.dispose()


_current: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    global _current
    _current = runtime


def get_runtime() -> Runtime:
    if _current is None:
        raise RuntimeError("the service runtime is not started")
    return _current
