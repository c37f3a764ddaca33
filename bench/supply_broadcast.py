"""Time to render a week's supply notice and enqueue it to 500 groups (one unit of work, as the API's
publish does), and to list its deliveries afterwards.

    .venv/bin/python bench/supply_broadcast.py [--database-url URL] [--groups 500] [--items 40]
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
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from bot.clock import ManualClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db import migrate  # noqa: E402
from bot.models import ChatGroup  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.services import broadcast, supply  # noqa: E402
from bot.services.supply import ItemIn  # noqa: E402
from tests.support import databases  # noqa: E402

ROUNDS = 5
BRANDS = ["中华", "玉溪", "芙蓉王", "黄鹤楼", "利群", "云烟", "白沙", "红塔山", "南京", "黄山"]
SPECS = ["软", "硬", "细支", "中支"]


def items(count: int) -> list[ItemIn]:
    bands = [{"min_grade": 1, "max_grade": 10, "cartons": 0}, {"min_grade": 11, "max_grade": 20, "cartons": 1},
             {"min_grade": 21, "max_grade": 30, "cartons": 2}]
    return [ItemIn(product=f"{BRANDS[n % len(BRANDS)]}({SPECS[n // len(BRANDS) % len(SPECS)]}{n})",
                   wholesale_price="300", retail_price="30", scarce=n % 5 == 0, quotas=bands) for n in range(count)]


def measure(url: str, groups: int, item_count: int) -> dict:
    runtime = Runtime(Settings(_env_file=None, database_url=url), clock=ManualClock())
    migrate(runtime.engine)
    tz, now = runtime.settings.tz, runtime.clock.now()
    with runtime.engine.begin() as db:
        db.execute(insert(ChatGroup.__table__), [
            {"platform": "qq", "group_id": str(800_000 + n), "bot_id": "20000", "active": True, "created_at": now}
            for n in range(groups)])
    data = {"title": "第48周货源", "period_start": date(2026, 11, 23), "period_end": date(2026, 11, 29),
            "order_opens_at": datetime(2026, 11, 23, 8, 30, tzinfo=tz),
            "order_closes_at": datetime(2026, 11, 24, 17, 0, tzinfo=tz)}
    publish, listing, parts = [], [], 0
    for _ in range(ROUNDS):
        notice = runtime.unit_of_work(supply.create_notice, data, items(item_count), staff_id=None, now=now)
        begin = time.perf_counter()
        runtime.unit_of_work(supply.publish, notice.id, now=now, tz=tz)
        publish.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        found = runtime.unit_of_work(broadcast.deliveries, subject=supply.SUBJECT, subject_id=notice.id)
        listing.append(time.perf_counter() - begin)
        assert len(found) == groups
        parts = found[0].parts
        runtime.clock.advance(minutes=1)
    runtime.close()
    return {"groups": groups, "items": item_count, "parts_per_group": parts, "outbox_rows": groups * parts,
            "render_and_enqueue_ms_median": round(1000 * statistics.median(publish), 1),
            "render_and_enqueue_ms_max": round(1000 * max(publish), 1),
            "deliveries_listing_ms_median": round(1000 * statistics.median(listing), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--items", type=int, default=40)
    args = parser.parse_args()
    if args.database_url:
        databases.BASE_URL, databases.ON_POSTGRES = args.database_url, args.database_url.startswith("postgresql")
    with tempfile.TemporaryDirectory() as scratch, databases.fresh_database(Path(scratch), "broadcast") as url:
        result = measure(url, args.groups, args.items)
    print(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                      "database": url.split(":")[0], **result}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
