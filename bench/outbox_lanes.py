"""How long a retailer waits for an answer while the outbox is busy, and while it is idle.

1. Backlog (the Monday 08:30 case): `--escalations` breach notices (300) are queued for different
   staff at `--rate-per-minute` (30); after the sender has sent three of them an agent's reply is
   queued through the runtime, as the API does. Reported: the reply's place among the sends and its
   wait from enqueue to send, once with the reply in its own lane (now) and once in the escalations'
   lane (one queue, first in first out: as before lanes). The pacing runs in virtual time (the
   sender's `monotonic`/`sleep` hooks), so ten minutes of sends take seconds; the database is real.
2. At rest: the sender idles on its poll (`outbox_poll_seconds`, 1 s); an acknowledgement is queued
   through the runtime at a random moment of the poll; reported: wall-clock time to its send, with the
   commit waking the sender (now) and with the poll alone (as before, by switching the wake-up off).
   Sends are not paced here (a high rate), so only the wake-up is measured.

    .venv/bin/python bench/outbox_lanes.py [--database-url URL] [--escalations 300] [--rate-per-minute 30]
                                           [--trials 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.db import migrate  # noqa: E402
from bot.models import Lane, OutboxMessage  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.sender import Sender  # noqa: E402
from bot.services import outbox  # noqa: E402
from tests.support import databases  # noqa: E402

BOT = "20000"
REPLY = "【工单 #1 客服回复】请重启扫码枪后再试。"


class Transport:
    """One connected QQ account; each send is handed to a callback."""

    def __init__(self, on_send) -> None:
        self.on_send, self.count = on_send, 0

    def connected(self) -> dict[str, str]:
        return {BOT: "qq"}

    async def send(self, bot_id: str, rows: list[OutboxMessage]) -> str | None:
        self.count += 1
        await self.on_send(rows)
        return str(self.count)


def queue_backlog(session, *, now, count: int) -> None:
    outbox.enqueue_many(session, [dict(platform="qq", target_kind="private", target_id=str(31_000 + n),
                                       text=f"【已超时】工单 #{n + 2} 的回帖回复已超过期限", lane=Lane.ESCALATION,
                                       kind=outbox.ESCALATION, bot_id=BOT) for n in range(count)], now=now)


async def behind_a_backlog(runtime: Runtime, lane: Lane) -> dict:
    now = [1000.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    replied = asyncio.Event()
    queued_at = sent_at = None
    sends = 0

    async def on_send(rows):
        nonlocal queued_at, sent_at, sends
        sends += 1
        if rows[0].text == REPLY:
            sent_at = now[0]
            replied.set()
        elif sends == 3:
            queued_at = now[0]
            await runtime.run(outbox.enqueue, now=runtime.clock.now(), platform="qq", target_kind="group",
                              target_id="900001", text=REPLY, lane=lane, bot_id=BOT)

    sender = Sender(runtime, Transport(on_send), monotonic=lambda: now[0], sleep=sleep)
    task = asyncio.create_task(sender.run_forever())
    try:
        await replied.wait()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return {"reply_lane": lane.name.lower(), "reply_sent_as_send_no": sends,
            "reply_wait_s": round(sent_at - queued_at, 2),
            "send_interval_s": round(60 / runtime.settings.outbox_rate_per_minute, 2)}


async def at_rest(runtime: Runtime, trials: int, wake: bool) -> dict:
    idle, sent = asyncio.Event(), asyncio.Event()
    poll = runtime.settings.outbox_poll_seconds

    async def sleep(seconds: float) -> None:
        if seconds >= poll:
            idle.set()
        await asyncio.sleep(seconds)

    async def on_send(rows):
        sent.set()

    if not wake:
        runtime._committed = lambda session: None  # the poll alone, as before the wake-up
    sender = Sender(runtime, Transport(on_send), sleep=sleep)
    task = asyncio.create_task(sender.run_forever())
    waits = []
    try:
        for n in range(trials):
            idle.clear()
            await idle.wait()
            await asyncio.sleep(random.uniform(0, poll))
            sent.clear()
            started = time.perf_counter()
            await runtime.run(outbox.enqueue, now=runtime.clock.now(), platform="qq", target_kind="group",
                              target_id="900001", text=f"收到，已登记为工单 #{n + 1}。", kind=outbox.ACK, bot_id=BOT)
            await sent.wait()
            waits.append(time.perf_counter() - started)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return {"wake_on_commit": wake, "poll_s": poll, "trials": trials,
            "ack_wait_ms": {"median": round(1000 * statistics.median(waits), 1),
                            "max": round(1000 * max(waits), 1)}}


def run(url: str, scenario, **settings) -> dict:
    runtime = Runtime(Settings(_env_file=None, database_url=url, outbox_min_interval_seconds=0,
                               outbox_jitter_seconds=0, **settings))
    migrate(runtime.engine)
    try:
        return asyncio.run(scenario(runtime))
    finally:
        runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--escalations", type=int, default=300)
    parser.add_argument("--rate-per-minute", type=int, default=30, help="OUTBOX_RATE_PER_MINUTE")
    parser.add_argument("--trials", type=int, default=20, help="acknowledgements sent at rest, per mode")
    args = parser.parse_args()
    if args.database_url:
        databases.BASE_URL, databases.ON_POSTGRES = args.database_url, args.database_url.startswith("postgresql")
    results = {"backlog": [], "at_rest": []}
    with tempfile.TemporaryDirectory() as scratch:
        for lane in (Lane.ESCALATION, Lane.REPLY):
            with databases.fresh_database(Path(scratch), "lanes") as url:
                async def backlog(runtime, lane=lane):
                    runtime.unit_of_work(queue_backlog, now=runtime.clock.now(), count=args.escalations)
                    return await behind_a_backlog(runtime, lane)
                results["backlog"].append(run(url, backlog, outbox_rate_per_minute=args.rate_per_minute))
        for wake in (False, True):
            with databases.fresh_database(Path(scratch), "rest") as url:
                results["at_rest"].append(run(url, lambda runtime, wake=wake: at_rest(runtime, args.trials, wake),
                                              outbox_rate_per_minute=6000))
    print(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                      "database": (args.database_url or "sqlite").split(":")[0], "escalations": args.escalations,
                      "rate_per_minute": args.rate_per_minute, **results}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
