"""A service of its own with one day of work in October 2026, for the report pages' tests (HTTP and browser).

Monday 19 October 2026, 10:00 (tests/services/test_reports.py's day): four requests in the 芙蓉区 group;
客服甲 answers one in 10 minutes, the bot answers one from the knowledge base, one is answered late by
客服乙 after 40 minutes, one stays open. At 10:31 the sweep breaches the late and the open one, each
charged to both agents on duty. The callback on 客服甲's ticket scores 2 and reopens it; the one on
客服乙's finds nobody.

The data is written through the services, in this process, with a clock set to that day; the service in
the subprocess reads the same database. Its sweep runs once at start-up and then once a day
(`sweep_seconds`), so nothing moves the October figures while the tests read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

from bot.clock import ManualClock
from bot.config import Settings
from bot.db import make_engine
from bot.models import ChatBinding, StaffMember
from bot.policy import Policies
from bot.services import escalation, intake, pledges
from bot.services.knowledge import KnowledgeBase
from bot.services.pledges import Items
from tests import factories as make
from tests.support.databases import fresh_database
from tests.support.service import ROOT, RunningService, start_service

MONTH = "2026-10"
MONTH_LABEL = "2026年10月"
MONDAY = datetime(2026, 10, 19, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
GROUP = "870001"
QUESTIONS = {"on_time": "订货平台登录不上怎么办", "late": "送货时间能不能改到下午",
             "bot": "扫码枪扫不出来怎么办", "open": "新品什么时候到"}
COMMENT = "还是登不上"


@dataclass
class Scenario:
    service: RunningService
    people: dict[str, dict[str, Any]]  # supervisor, first (客服甲), second (客服乙), caller, marketer: the API's answer
    tickets: dict[str, int]  # QUESTIONS' keys

    def admin(self) -> httpx.Client:
        return self.service.client()


def _staff(admin: httpx.Client, name: str, *roles: str, chat: str | None = None) -> dict[str, Any]:
    made = admin.post("/api/v1/staff", json={"name": name, "roles": list(roles), "chat_user_id": chat})
    assert made.status_code == 201, made.text
    return made.json()


def _one_day(database_url: str, people: dict[str, dict[str, Any]]) -> dict[str, int]:
    clock = ManualClock(MONDAY)
    settings = Settings(_env_file=None, database_url=database_url, admin_token="", log_level="WARNING")
    policies, tz = Policies(), settings.tz
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            first, second, caller = (session.get(StaffMember, people[key]["id"])
                                     for key in ("first", "second", "caller"))
            assert first and second and caller
            make.group(session, clock, group_id=GROUP, district="芙蓉区", name="芙蓉区零售户服务群")
            for user, phone in (("10001", "13912345678"), ("10002", "13987654321")):  # the first two are bound
                shop = make.retailer(session, clock, phone=phone, district="芙蓉区")
                session.add(ChatBinding(platform="qq", chat_user_id=user, retailer_id=shop.id, bound_at=clock.now()))
            session.commit()
            knowledge = KnowledgeBase(ROOT / "knowledge", engine)  # the service seeded its store

            def post(key: str, user: str) -> int:
                outcome = make.post(session, clock, settings, QUESTIONS[key], user_id=user, group_id=GROUP,
                                    knowledge=knowledge if key == "bot" else None)
                return outcome.ticket_id

            ids = {"on_time": post("on_time", "10001"), "late": post("late", "10002"), "bot": post("bot", "10003"),
                   "open": post("open", "10004")}
            clock.advance(minutes=10)
            intake.reply_via_api(session, ids["on_time"], first, "好的，请退出后重新登录", now=clock.now(),
                                 policies=policies, tz=tz)
            session.commit()
            clock.advance(minutes=21)
            escalation.sweep(session, now=clock.now(), policies=policies, tz=tz)
            session.commit()
            clock.advance(minutes=9)
            intake.reply_via_api(session, ids["late"], second, "已改到下午", now=clock.now(), policies=policies, tz=tz)
            session.commit()
            clock.advance(minutes=30)
            pledges.record_callback(session, ids["on_time"], caller, reached=True, score=2, reply_in_time=True,
                                    visit_happened=None, comment=COMMENT, now=clock.now(), policies=policies, tz=tz,
                                    items=Items(supply="satisfied", handling="dissatisfied"))
            clock.advance(minutes=5)
            pledges.record_callback(session, ids["late"], caller, reached=False, score=None, reply_in_time=None,
                                    visit_happened=None, comment=None, now=clock.now(), policies=policies, tz=tz)
            session.commit()
            return ids
    finally:
        engine.dispose()


@contextmanager
def reports_service(directory: Path) -> Iterator[Scenario]:
    policy = directory / "quiet.toml"
    policy.write_text("sweep_seconds = 86400\n")  # one sweep at start-up, before the day is written
    with fresh_database(directory, "reports") as url:
        service = start_service(url, directory, POLICY_FILE=str(policy))
        try:
            with service.client() as admin:
                people = {"supervisor": _staff(admin, "王主管", "supervisor"),
                          "first": _staff(admin, "客服甲", "agent", chat="30001"),
                          "second": _staff(admin, "客服乙", "agent", chat="30002"),
                          "caller": _staff(admin, "回访员小李", "callback", chat="70001"),
                          "marketer": _staff(admin, "营销小刘", "marketing")}
            yield Scenario(service, people, _one_day(url, people))
        finally:
            service.stop()
