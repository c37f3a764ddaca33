"""Fixtures for tests that talk to the real service over HTTP and WebSocket."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import httpx
import pytest

from tests.support.databases import fresh_database
from tests.support.service import RunningService, start_service

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    directory = tmp_path_factory.mktemp("service")
    with fresh_database(directory, "svc") as url:
        running = start_service(url, directory)
        yield running
        running.stop()


@pytest.fixture(scope="session")
def admin(service: RunningService) -> Iterator[httpx.Client]:
    with service.client() as client:
        yield client


def unique_number(base: int) -> int:
    """A fresh group or user number, so tests sharing one service never collide."""
    return base + next(_numbers)


def new_member(admin: httpx.Client, *roles: str, chat: bool = False) -> dict:
    """A staff member made through the admin API (its answer: id, token, ...); `chat` gives them a QQ number."""
    body: dict = {"name": f"员工{unique_number(200)}", "roles": list(roles)}
    if chat:
        body["chat_user_id"] = str(unique_number(68_000))
    made = admin.post("/api/v1/staff", json=body)
    assert made.status_code == 201, made.text
    return made.json()


async def wait_for(predicate, timeout: float = 10, every: float = 0.05):
    """Poll an external process until the condition holds (never a fixed sleep)."""
    async with asyncio.timeout(timeout):
        while not (result := predicate()):
            await asyncio.sleep(every)
        return result
