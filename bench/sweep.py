"""The cost of one escalation sweep with 100 pledges due among 10 thousand, 100 thousand and
1 million open ones. A sweep should cost in proportion to what is due, not to what is open.

    .venv/bin/python bench/sweep.py [--database-url URL] [--open 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text, update  # noqa: E402

from bot.clock import ManualClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db import migrate  # noqa: E402
from bot.models import ChatGroup, Pledge, Role, StaffMember, Ticket  # noqa: E402
from bot.policy import Policies  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.services import escalation  # noqa: E402
from tests.support import databases  # noqa: E402

DUE, CHUNK, ROUNDS = 100, 20_000, 7


def fill(runtime: Runtime, count: int) -> None:
    """`count` open tickets with a reply pledge each, all due next week."""
    now = runtime.clock.now()
    later = now + timedelta(days=7)
    with runtime.engine.begin() as db:
        db.execute(insert(ChatGroup.__table__), [{"platform": "qq", "group_id": "900001", "active": True,
                                                   "created_at": now}])
        db.execute(insert(StaffMember.__table__), [
            {"name": f"员工{n}", "roles": [role], "chat_user_id": str(30000 + n), "active": True,
             "created_at": now} for n, role in enumerate([Role.AGENT, Role.AGENT, Role.SUPERVISOR, Role.ADMIN])])
        for start in range(0, count, CHUNK):
            ids = range(start + 1, min(start + CHUNK, count) + 1)
            db.execute(insert(Ticket.__table__), [
                {"id": i, "chat_group_id": 1, "sender_user_id": str(i), "category": "other", "status": "open",
                 "trading_flag": False, "text": "问题", "created_at": now, "updated_at": now,
                 "last_message_at": now} for i in ids])
            db.execute(insert(Pledge.__table__), [
                {"ticket_id": i, "kind": "reply", "owner_role": "agent", "state": "pending", "due_at": later,
                 "warn_at": later, "next_check_at": later, "escalation_level": 0, "created_at": now,
                 "started_at": now} for i in ids])
        if db.dialect.name == "postgresql":
            db.execute(text("ANALYZE"))


def make_due(runtime: Runtime, count: int, round_: int) -> None:
    """Bring a fresh 100 pledges due now (breach and first escalation both fire)."""
    now = runtime.clock.now()
    first = 1 + (round_ * DUE) % (count - DUE)
    with runtime.engine.begin() as db:
        db.execute(update(Pledge.__table__).where(Pledge.__table__.c.ticket_id.between(first, first + DUE - 1))
                   .values(due_at=now - timedelta(minutes=1), warn_at=now - timedelta(minutes=5),
                           next_check_at=now - timedelta(minutes=1)))


def measure(url: str, count: int) -> dict:
    runtime = Runtime(Settings(_env_file=None, database_url=url), clock=ManualClock())
    migrate(runtime.engine)
    started = time.perf_counter()
    fill(runtime, count)
    filled = time.perf_counter() - started
    policies, tz, timings = Policies(), runtime.settings.tz, []
    for round_ in range(ROUNDS):
        make_due(runtime, count, round_)
        runtime.clock.advance(seconds=1)
        begin = time.perf_counter()
        result = runtime.unit_of_work(escalation.sweep, now=runtime.clock.now(), policies=policies, tz=tz)
        timings.append(time.perf_counter() - begin)
        assert result.examined == DUE, result
    empty_begin = time.perf_counter()
    runtime.unit_of_work(escalation.sweep, now=runtime.clock.now(), policies=policies, tz=tz)
    empty = time.perf_counter() - empty_begin
    runtime.close()
    return {"open": count, "due": DUE, "sweep_ms_median": round(1000 * statistics.median(timings[1:]), 1),
            "sweep_ms_max": round(1000 * max(timings[1:]), 1), "nothing_due_ms": round(1000 * empty, 2),
            "fill_s": round(filled, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--open", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    if args.database_url:
        databases.BASE_URL, databases.ON_POSTGRES = args.database_url, args.database_url.startswith("postgresql")
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for count in args.open:
            with databases.fresh_database(Path(scratch), "sweep") as url:
                runs.append({**measure(url, count), "database": url.split(":")[0]})
    small, large = runs[0]["sweep_ms_median"], runs[-1]["sweep_ms_median"]
    print(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                      "runs": runs, "largest_vs_smallest": round(large / small, 2)}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
