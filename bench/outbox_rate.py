"""The outbox's delivery rate against its configured limit, in real time: it must never exceed the
limit, and come within 5 % of it.

Enqueues one group message for each of `--messages` groups (through `outbox.enqueue`, as a supply
notice's broadcast does), runs the real `Sender` with a transport that only records the monotonic
time of each send (no network), and judges the times:
- achieved rate over the whole run, (sends - 1) / (last - first), against the limit;
- "never exceeds": the most sends in any sliding 60 s window must be at most the limit; a run shorter
  than a minute cannot show that on its own, so every window of W = k * 60 / limit seconds (k = 1, 2,
  5, 10, ... up to the run's length) must hold at most limit * W / 60 + 1 = k + 1 sends.

    .venv/bin/python bench/outbox_rate.py [--database-url URL] [--messages 500] [--rate-per-minute 600]
                                          [--min-interval 0] [--jitter 0]
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
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlmodel import Session, func, select  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.db import migrate  # noqa: E402
from bot.models import Lane, OutboxMessage, OutboxStatus  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.sender import Sender  # noqa: E402
from bot.services import outbox  # noqa: E402
from tests.support import databases  # noqa: E402
from tests.support.pacing import most_in_any_window, per_minute  # noqa: E402

BOT = "20000"


class StampingTransport:
    """One connected QQ account whose sends only record when they happened."""

    def __init__(self, expected: int) -> None:
        self.stamps: list[float] = []
        self.all_sent = asyncio.Event()
        self.expected = expected

    def connected(self) -> dict[str, str]:
        return {BOT: "qq"}

    async def send(self, bot_id: str, rows: list[OutboxMessage]) -> str | None:
        self.stamps.append(time.monotonic())
        if len(self.stamps) >= self.expected:
            self.all_sent.set()
        return str(len(self.stamps))


def enqueue_all(session: Session, *, now, count: int) -> None:
    for n in range(count):
        outbox.enqueue(session, now=now, platform="qq", target_kind="group", target_id=str(800_000 + n),
                       text=f"【货源信息】第48周货源 (1/1) 群{n}", lane=Lane.BROADCAST, bot_id=BOT)


def count_sent(session: Session) -> int:
    return session.exec(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.status == OutboxStatus.SENT)).one()


def window_checks(times: list[float], limit: int) -> list[tuple[float, int, int]]:
    """(W, most sends in any W-second window, allowed) for W = k * 60 / limit: allowed limit * W / 60 + 1."""
    span, checks, k = times[-1] - times[0], [], 1
    steps = [1, 2, 5]
    while True:
        for step in steps:
            size = step * k
            seconds = size * 60 / limit
            if seconds > max(span, 60):
                return checks
            checks.append((round(seconds, 3), most_in_any_window(times, seconds), size + 1))
        k *= 10


async def deliver(runtime: Runtime, count: int) -> tuple[list[float], float]:
    transport = StampingTransport(count)
    sender = Sender(runtime, transport)
    started = time.monotonic()
    task = asyncio.create_task(sender.run_forever())
    try:
        await asyncio.wait_for(transport.all_sent.wait(), timeout=count * 60 + 60)
        while await runtime.run(count_sent) < count:  # the last send's row is marked too
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return transport.stamps, started


def measure(url: str, args: argparse.Namespace) -> dict:
    settings = Settings(_env_file=None, database_url=url, outbox_rate_per_minute=args.rate_per_minute,
                        outbox_min_interval_seconds=args.min_interval, outbox_jitter_seconds=args.jitter)
    runtime = Runtime(settings)
    migrate(runtime.engine)
    runtime.unit_of_work(enqueue_all, now=runtime.clock.now(), count=args.messages)
    try:
        times, started = asyncio.run(deliver(runtime, args.messages))
    finally:
        runtime.close()
    limit, span = args.rate_per_minute, times[-1] - times[0]
    achieved = per_minute(times) if span else float("inf")
    gaps = [b - a for a, b in pairwise(times)]
    checks = window_checks(times, limit)
    in_a_minute = most_in_any_window(times, 60)
    return {
        "database": url.split(":")[0], "messages": args.messages, "sent": len(times),
        "limit_per_minute": limit, "min_interval_s": args.min_interval, "jitter_s": args.jitter,
        "achieved_per_minute": round(achieved, 2), "achieved_vs_limit": round(achieved / limit, 4),
        "within_5_percent": 0.95 * limit <= achieved <= limit,
        "most_in_any_60s_window": in_a_minute,
        "never_exceeds": in_a_minute <= limit and all(most <= allowed for _, most, allowed in checks),
        "gap_ms": {"min": round(1000 * min(gaps), 2), "median": round(1000 * statistics.median(gaps), 2),
                   "max": round(1000 * max(gaps), 2), "expected": round(60_000 / limit, 2)},
        "first_to_last_s": round(span, 2), "start_to_last_s": round(times[-1] - started, 2),
        "windows_s_most_allowed": {str(seconds): f"{most}/{allowed}" for seconds, most, allowed in checks},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--messages", type=int, default=500, help="group messages, one per group")
    parser.add_argument("--rate-per-minute", type=int, default=600, help="OUTBOX_RATE_PER_MINUTE")
    parser.add_argument("--min-interval", type=float, default=0, help="OUTBOX_MIN_INTERVAL_SECONDS")
    parser.add_argument("--jitter", type=float, default=0, help="OUTBOX_JITTER_SECONDS")
    args = parser.parse_args()
    if args.messages < 2:
        parser.error("--messages must be at least 2 to measure a rate")
    if args.database_url:
        databases.BASE_URL, databases.ON_POSTGRES = args.database_url, args.database_url.startswith("postgresql")
    with tempfile.TemporaryDirectory() as scratch, databases.fresh_database(Path(scratch), "outbox_rate") as url:
        result = measure(url, args)
    print(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                      **result}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
