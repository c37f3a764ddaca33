"""What a running service holds: settings, the store and the clock.

Chat handlers hand their unit of work to one store thread: the event loop
never blocks on the database, and one retailer's burst of messages is
threaded in arrival order instead of racing into several tickets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session
from tenacity import (
    before_sleep_log,
    retry,
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
        self._store_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._retrying = retry(
            retry=retry_if_exception(_is_transient),
            wait=wait_exponential(multiplier=0.05, max=2),
            stop=stop_after_delay(outage_seconds),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )

    def unit_of_work(self, fn: Callable[Concatenate[Session, P], T], *args: P.args,
                     **kwargs: P.kwargs) -> T:
        """Run `fn(session, ...)` in one transaction, retried while the database is away."""

        def attempt() -> T:
            with session_scope(self.engine) as session:
                return fn(session, *args, **kwargs)

        return self._retrying(attempt)()

    async def run(self, fn: Callable[Concatenate[Session, P], T], *args: P.args,
                  **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._store_thread, lambda: self.unit_of_work(fn, *args, **kwargs)
        )

    def close(self) -> None:
        self._store_thread.shutdown(wait=True)
        self.engine.dispose()


_current: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    global _current
    _current = runtime


def get_runtime() -> Runtime:
    if _current is None:
        raise RuntimeError("the service runtime is not started")
    return _current
