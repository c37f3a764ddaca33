"""The staff console under a full inbox: page times with 1,000 (or more) open tickets, and how soon an
open inbox hears of a new ticket.

Fills a fresh database with open tickets (reply pledges running, some warned, some overdue, across
groups and bound retailers), starts the real service on it, signs an agent in and measures over
HTTP on loopback, each request timed from send to last byte:
- the inbox (default view, the overdue view, a search), a ticket page;
- the floor in the same run: the sign-in page (a template, no query) and /healthz (one query);
- live: a retailer posts over the OneBot WebSocket, and the time until the console's event stream
  names the new ticket.

    .venv/bin/python bench/console_inbox.py [--open 1000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from bot.db import make_engine, migrate  # noqa: E402
from bot.models import ChatGroup, Pledge, Retailer, Ticket  # noqa: E402
from tests.console.test_console_http import csrf_of  # noqa: E402
from tests.console.test_live import changed_tickets, heard_of  # noqa: E402
from tests.support import databases  # noqa: E402
from tests.support.napcat import NapCat  # noqa: E402
from tests.support.service import ACCESS_TOKEN, start_service  # noqa: E402

GROUPS, ROUNDS, LIVE = 20, 30, 20
QUESTIONS = ["终端黑屏了开不了机", "扫码枪扫不出来", "送货少送了两条", "订货平台登录不上", "许可证快到期了怎么延续"]


def fill(url: str, count: int) -> None:
    """`count` open tickets: a third bound to a retailer, a tenth overdue, a tenth past the warning."""
    engine = make_engine(url)
    migrate(engine)
    now = datetime.now(UTC)
    with engine.begin() as db:
        db.execute(insert(ChatGroup.__table__), [  # type: ignore[attr-defined]
            {"platform": "qq", "group_id": str(800_000 + g), "name": f"第{g}零售户群", "active": True,
             "created_at": now} for g in range(GROUPS)])
        db.execute(insert(Retailer.__table__), [  # type: ignore[attr-defined]
            {"license_no": f"4301{n:08d}", "store_name": f"便民店{n}", "district": f"片区{n % 5}", "active": True,
             "created_at": now, "updated_at": now} for n in range(count // 3)])
        db.execute(insert(Ticket.__table__), [  # type: ignore[attr-defined]
            {"id": n + 1, "chat_group_id": n % GROUPS + 1, "retailer_id": n + 1 if n < count // 3 else None,
             "sender_user_id": str(100_000 + n), "sender_name": f"用户{n}", "category": "terminal",
             "status": "open", "trading_flag": False, "text": f"{QUESTIONS[n % len(QUESTIONS)]}（{n}）",
             "created_at": now - timedelta(minutes=n), "updated_at": now, "last_message_at": now}
            for n in range(count)])
        db.execute(insert(Pledge.__table__), [  # type: ignore[attr-defined]
            {"ticket_id": n + 1, "kind": "reply", "owner_role": "agent", "state": "pending",
             "due_at": now + timedelta(hours=2) - timedelta(hours=3 if n % 10 == 0 else 0),
             "warn_at": now + timedelta(hours=1) - timedelta(hours=2 if n % 10 in (0, 1) else 0),
             "next_check_at": now + timedelta(hours=1), "escalation_level": 0, "created_at": now,
             "started_at": now} for n in range(count)])
        if db.dialect.name == "postgresql":  # the ids were given: the sequence starts after them
            db.execute(text("SELECT setval('ticket_id_seq', :last)"), {"last": count})
            db.execute(text("ANALYZE"))
    engine.dispose()


def timed(client: httpx.Client, path: str, **params: str) -> dict:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        answer = client.get(path, params=params)
        answer.read()
        times.append(time.perf_counter() - start)
        assert answer.status_code == 200, (path, answer.status_code)
    times.sort()
    return {"median_ms": round(1000 * statistics.median(times), 1),
            "p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 1)}


async def live(service, admin: httpx.Client, cookie: str) -> dict:
    ready, heard = asyncio.Event(), asyncio.Queue()
    listening = asyncio.create_task(changed_tickets(service, cookie, ready, heard))
    delays = []
    try:
        await asyncio.wait_for(ready.wait(), 10)
        async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
            while not admin.get("/healthz").json()["bots"]:
                await asyncio.sleep(0.05)
            for n in range(LIVE):
                asked = time.perf_counter()
                await napcat.group_message(800_000, 900_000 + n, f"终端黑屏了开不了机，第{n}次")
                while not (found := admin.get("/api/v1/tickets", params={"q": f"第{n}次"}).json()["items"]):
                    await asyncio.sleep(0.02)
                delays.append(await heard_of(heard, found[0]["id"]) - asked)
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
    return {"median_ms": round(1000 * statistics.median(delays), 1), "max_ms": round(1000 * max(delays), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--open", type=int, default=1000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    if args.database_url:
        databases.BASE_URL = args.database_url
        databases.ON_POSTGRES = args.database_url.startswith("postgresql")
    results: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                     "open_tickets": args.open}
    with tempfile.TemporaryDirectory() as scratch, databases.fresh_database(Path(scratch), "console") as url:
        results["database"] = url.split(":")[0]
        fill(url, args.open)
        service = start_service(url, Path(scratch))
        try:
            with service.client() as admin:
                agent = admin.post("/api/v1/staff", json={"name": "客服", "roles": ["agent"]}).json()
                with httpx.Client(base_url=service.base_url) as browser:
                    form = browser.get("/console/login")
                    browser.post("/console/login", data={"token": agent["token"], "csrf": csrf_of(form.text)})
                    results["floor_sign_in_page"] = timed(browser, "/console/login")
                    results["floor_healthz"] = timed(browser, "/healthz")
                    results["inbox_open"] = timed(browser, "/console/tickets")
                    results["inbox_rows_refresh"] = timed(browser, "/console/tickets/rows")
                    results["inbox_overdue"] = timed(browser, "/console/tickets", view="breached")
                    results["inbox_search"] = timed(browser, "/console/tickets", q="扫码枪")
                    results["ticket_page"] = timed(browser, "/console/tickets/2")
                    results["live_new_ticket"] = asyncio.run(live(service, admin,
                                                                  browser.cookies["console_session"]))
        finally:
            service.stop()
    print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
