"""Shared fixtures: a migrated store with a controllable clock, and NoneBot via nonebug."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from nonebug import NONEBOT_INIT_KWARGS
from sqlmodel import Session

from bot.clock import ManualClock
from bot.config import Settings
from bot.runtime import Runtime, set_runtime
from tests.support.databases import empty_tables, fresh_database

# Monday 23 November 2026, 10:00 in Shanghai.
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[NONEBOT_INIT_KWARGS] = {"driver": "~fastapi", "command_start": [""],
                                         "command_sep": [" "], "log_level": "WARNING",
                                         "console_headless_mode": True}


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("db"), "unit") as url:
        yield url


@pytest.fixture(scope="session")
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(scope="session")
def runtime(database_url: str, clock: ManualClock) -> Iterator[Runtime]:
    from bot.app import start_runtime

    settings = Settings(_env_file=None, database_url=database_url, admin_token="", log_level="WARNING",
                        outbox_min_interval_seconds=0, outbox_jitter_seconds=0)
    runtime = start_runtime(settings, clock=clock)
    yield runtime
    set_runtime(None)
    runtime.close()


@pytest.fixture(autouse=True)
def _clean_store(request: pytest.FixtureRequest, clock: ManualClock) -> Iterator[None]:
    """Every test starts at START with empty tables (only when it uses the store)."""
    clock.set(START)
    yield
    if "runtime" not in request.fixturenames:
        return
    runtime: Runtime = request.getfixturevalue("runtime")
    empty_tables(runtime.engine)


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    with Session(runtime.engine) as session:
        yield session


@pytest.fixture(scope="session", autouse=True)
def after_nonebot_init(after_nonebot_init: None, runtime: Runtime) -> None:
    """Load the chat plugins on the test store (the sender stays off: tests drive it)."""
    import nonebot
    from nonebot.adapters.console import Adapter as ConsoleAdapter
    from nonebot.adapters.onebot.v11 import Adapter as OneBotAdapter

    driver = nonebot.get_driver()
    driver.register_adapter(OneBotAdapter)
    driver.register_adapter(ConsoleAdapter)
    for plugin in ("plugins.private_chat", "plugins.intake"):
        nonebot.load_plugin(plugin)
