"""The morning after a supply notice: the notice to 40 groups, then 2,000 quota questions (我能订多少) in 60 s
from bound retailers, on 4 bot accounts at the outbox's default pacing, through the real service over real
OneBot WebSockets.

Each retailer is bound and asks once in their own group; the bot answers each on the reply lane privately,
through the group, with their own quota, and tells the group (您的限量已私信发给您, quoting them; several
due together in one group as one message mentioning each),
and the notice's parts go out on the broadcast lane. Every account has to make its sends one at a time
inside its rate limit (OUTBOX_RATE_PER_MINUTE, default 30) and gap (OUTBOX_MIN_INTERVAL_SECONDS plus
jitter). Reported:
- when every retailer had their quota (the private answer), the group replies and the notice's parts were
  all out, each counted from the notice's publication; the answer's latency per question (p50, p90, max);
- what waited and why: the most waiting per lane and account, and the oldest's age, as the product shows
  them (`/metrics`: retailer_bot_outbox_waiting and _oldest_age_seconds; `/api/v1/outbox/queues`, which is
  also what the console's 发送队列 page lists), sampled every `--sample` seconds, and the rate each account
  achieved against its limit;
- what it would take to answer everyone within 5 minutes: the sends per account per minute needed, for a
  few account counts (verify one with `--accounts` and `--rate-per-minute`);
- the service's RSS after start and after the burst, and its CPU time. The floor: the same questions
  answered by the bare NoneBot echo bot (bench/echo_bot.py), which has no pacing at all.

    .venv/bin/python bench/burst.py [--accounts 4] [--groups 40] [--questions 2000] [--seconds 60]
                                    [--rate-per-minute 30] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlmodel import Session  # noqa: E402

from bench.intake_load import cpu_seconds, rss_mb, start_echo  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db import make_engine, migrate  # noqa: E402
from bot.models import ChatBinding, ChatGroup, Retailer  # noqa: E402
from tests.support import databases  # noqa: E402
from tests.support.napcat import NapCat  # noqa: E402
from tests.support.service import ACCESS_TOKEN, ADMIN_TOKEN, start_service  # noqa: E402

QUESTIONS = ["老师，这周我能订多少？", "软中华我能订几条", "我可以订多少", "玉溪我能要几条啊", "这次我能订多少条"]
BANDS = [{"min_grade": 1, "max_grade": 10, "cartons": 0}, {"min_grade": 11, "max_grade": 20, "cartons": 1},
         {"min_grade": 21, "max_grade": 30, "cartons": 3}]
FIRST_GROUP, FIRST_RETAILER, FIRST_ACCOUNT = 910_000, 3_000_000, 20_000
PRODUCTS = ["中华(软)", "中华(硬)", "玉溪(软)", "芙蓉王(硬)", "黄鹤楼(软蓝)", "利群(新版)", "云烟(紫)", "白沙(精品)",
            "南京(炫赫门)", "黄山(红方印)", "红塔山(经典)", "娇子(宽窄)"]
LANES = {"0": "reply", "1": "staff", "2": "escalation", "3": "broadcast"}


def text_of(call: dict) -> str:
    return "".join(seg["data"].get("text", "") for seg in call["params"]["message"] if seg["type"] == "text")


def prepare_store(url: str, accounts: int, groups: int, questions: int) -> None:
    """Groups (each on one account), and one bound retailer per question, written before the service starts."""
    engine = make_engine(url)
    migrate(engine)
    now = datetime.now(UTC)
    with Session(engine) as session:
        for g in range(groups):
            session.add(ChatGroup(group_id=str(FIRST_GROUP + g), name=f"零售户服务群{g}", district=f"片区{g}",
                                  bot_id=str(FIRST_ACCOUNT + g % accounts), created_at=now))
        for n in range(questions):
            session.add(Retailer(id=n + 1, license_no=f"4301{n:08d}", store_name=f"便利店{n}", phone="13900000000",
                                 grade=5 + n % 26, district=f"片区{n % groups}", created_at=now, updated_at=now))
        session.flush()
        for n in range(questions):
            session.add(ChatBinding(platform="qq", chat_user_id=str(FIRST_RETAILER + n), retailer_id=n + 1,
                                    bound_at=now))
        session.commit()
    engine.dispose()


class Watch:
    """What the service's accounts send, as NapCat sees it: each call's time and kind."""

    def __init__(self, clients: list[NapCat], started: float) -> None:
        self.started = started
        self.notice_parts: list[float] = []
        self.group_replies: dict[str, float] = {}  # quoted question or mentioned retailer -> when
        self.quotas: dict[int, float] = {}  # retailer -> when their quota came
        self.sends_by_account: dict[str, list[float]] = defaultdict(list)
        self.other: list[str] = []
        self.readers = [asyncio.create_task(self._collect(client)) for client in clients]

    async def _collect(self, client: NapCat) -> None:
        while True:
            call = await client.next_call("send", timeout=86_400)
            at = call["received_at"] - self.started
            self.sends_by_account[client.self_id].append(at)
            params = call["params"]
            if call["action"] == "send_private_msg":
                self.quotas.setdefault(int(params["user_id"]), at)
            elif text_of(call).startswith("【货源信息"):
                self.notice_parts.append(at)
            else:
                told = [f"{seg['type']}:{seg['data'].get('id') or seg['data'].get('qq')}"
                        for seg in params["message"] if seg["type"] in ("reply", "at")]
                for someone in told:
                    self.group_replies.setdefault(someone, at)
                if not told:
                    self.other.append(text_of(call)[:40])

    def close(self) -> None:
        for reader in self.readers:
            reader.cancel()


def waiting_in_metrics(body: str) -> dict[str, dict[str, float]]:
    """retailer_bot_outbox_waiting / _oldest_age_seconds per "account/lane", from /metrics."""
    found: dict[str, dict[str, float]] = defaultdict(dict)
    pattern = r"^retailer_bot_(outbox_waiting|outbox_oldest_age_seconds)\{(.*?)\} (\S+)$"
    for name, labels, value in re.findall(pattern, body, re.MULTILINE):
        fields = dict(re.findall(r'(\w+)="(.*?)"', labels))
        found[f"{fields['bot_id'] or 'any'}/{fields['lane']}"][name.removeprefix("outbox_")] = float(value)
    return found


def console_rows(page: str) -> list[str]:
    """The 发送队列 page's rows as an admin reads them: account, lane, waiting, oldest, 按限速还需."""
    rows = re.findall(r'<td data-label="机器人账号">(.*?)</td>\s*<td data-label="通道">(.*?)</td>'
                      r'<td data-label="待发送">(.*?)</td>\s*<td data-label="最久已等">(.*?)</td>'
                      r'<td data-label="按限速还需">(.*?)</td>', page)
    return [" ".join(row) for row in rows]


async def sample(admin: httpx.AsyncClient, console: httpx.AsyncClient, watch: Watch, every: float,
                 samples: list[dict]) -> None:
    while True:
        at = round(time.perf_counter() - watch.started, 1)
        metrics = waiting_in_metrics((await admin.get("/metrics")).text)
        queues = (await admin.get("/api/v1/outbox/queues")).json()
        page = console_rows((await console.get("/console/outbox")).text)
        samples.append({"at_s": at, "metrics": metrics, "queues": queues, "console": page})
        await asyncio.sleep(every)


async def console_session(base_url: str) -> httpx.AsyncClient:
    """Signed in to the console with the admin's token, as a browser is."""
    client = httpx.AsyncClient(base_url=base_url, timeout=30)
    form = (await client.get("/console/login")).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf, "the sign-in form carries its CSRF token"
    signed = await client.post("/console/login", data={"token": ADMIN_TOKEN, "csrf": csrf.group(1)})
    assert signed.status_code == 303, signed.text
    return client


def publish_notice(admin: httpx.Client, groups: int) -> int:
    marketer = admin.post("/api/v1/staff", json={"name": "营销员", "roles": ["marketing"]}).json()
    listed = admin.get("/api/v1/groups", params={"limit": 200}).json()
    ids = [group["id"] for group in (listed["items"] if isinstance(listed, dict) else listed)][:groups]
    today = date.today()
    body = {"title": "第49周货源", "period_start": str(today), "period_end": str(today + timedelta(days=6)),
            "order_opens_at": f"{today}T08:30:00", "order_closes_at": f"{today + timedelta(days=1)}T17:00:00",
            "group_ids": ids,
            "items": [{"product": name, "wholesale_price": "450", "retail_price": "65", "scarce": n % 3 == 0,
                       "quotas": BANDS} for n, name in enumerate(PRODUCTS)]}
    as_marketer = {"Authorization": f"Bearer {marketer['token']}"}
    notice = admin.post("/api/v1/supply/notices", json=body, headers=as_marketer)
    notice.raise_for_status()
    admin.post(f"/api/v1/supply/notices/{notice.json()['id']}/publish", headers=as_marketer).raise_for_status()
    deliveries = admin.get(f"/api/v1/supply/notices/{notice.json()['id']}/deliveries").json()
    return sum(delivery["parts"] for delivery in deliveries)


async def burst(service, args: argparse.Namespace, admin: httpx.Client) -> dict:
    groups_of = defaultdict(list)
    for g in range(args.groups):
        groups_of[str(FIRST_ACCOUNT + g % args.accounts)].append(FIRST_GROUP + g)
    clients = [await NapCat(service.ws_url, self_id=account, token=ACCESS_TOKEN, groups=groups).__aenter__()
               for account, groups in sorted(groups_of.items())]
    by_account = {client.self_id: client for client in clients}
    deadline = time.monotonic() + 30
    while len(admin.get("/healthz").json()["bots"]) < args.accounts and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)  # each account's group list is read and stored
    started = time.perf_counter()
    watch = Watch(clients, started)
    samples: list[dict] = []
    cpu_before = cpu_seconds(service.process.pid)
    async with httpx.AsyncClient(base_url=service.base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                 timeout=30) as watcher:
        console = await console_session(service.base_url)
        sampler = asyncio.create_task(sample(watcher, console, watch, args.sample, samples))
        parts = await asyncio.to_thread(publish_notice, admin, args.groups)
        asked: dict[int, tuple[int, float]] = {}  # message id -> (retailer, when asked)
        for n in range(args.questions):
            delay = started + 1 + n * args.seconds / args.questions - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            group = FIRST_GROUP + n % args.groups
            client = by_account[str(FIRST_ACCOUNT + (n % args.groups) % args.accounts)]
            message_id = await client.group_message(group, FIRST_RETAILER + n, QUESTIONS[n % len(QUESTIONS)])
            asked[message_id] = (FIRST_RETAILER + n, time.perf_counter() - started)
        asked_over = time.perf_counter() - started
        give_up = time.monotonic() + args.give_up
        while time.monotonic() < give_up and (len(watch.quotas) < args.questions or len(watch.group_replies)
                                               < args.questions or len(watch.notice_parts) < parts):
            await asyncio.sleep(1)
        sampler.cancel()
        await console.aclose()
    cpu = cpu_seconds(service.process.pid) - cpu_before
    watch.close()
    for client in clients:
        await client.__aexit__()

    when_asked = {retailer: at for retailer, at in asked.values()}
    latencies = sorted(watch.quotas[r] - when_asked[r] for r in watch.quotas if r in when_asked)
    sends = sum(len(times) for times in watch.sends_by_account.values())
    per_account_rate = {account: round(60 * (len(times) - 1) / (times[-1] - times[0]), 1)
                        for account, times in sorted(watch.sends_by_account.items()) if len(times) > 1}
    most: dict[str, dict[str, float]] = defaultdict(lambda: {"waiting": 0.0, "oldest_age_seconds": 0.0})
    for taken in samples:
        for key, values in taken["metrics"].items():
            for name, value in values.items():
                most[key][name] = max(most[key][name], value)
    return {
        "accounts": args.accounts, "groups": args.groups, "questions": args.questions, "asked_over_s":
            round(asked_over, 1), "notice_parts": parts,
        "rate_limit_per_minute": args.rate_per_minute, "min_interval_s": args.min_interval, "jitter_s": args.jitter,
        "answered_retailers": len(watch.quotas), "group_replies": len(watch.group_replies),
        "notice_parts_sent": len(watch.notice_parts),
        "every_retailer_answered_at_s": round(max(watch.quotas.values()), 1) if watch.quotas else None,
        "every_group_reply_at_s": round(max(watch.group_replies.values()), 1) if watch.group_replies else None,
        "every_notice_part_at_s": round(max(watch.notice_parts), 1) if watch.notice_parts else None,
        "first_notice_part_at_s": round(min(watch.notice_parts), 1) if watch.notice_parts else None,
        "quota_latency_s": {"p50": round(statistics.median(latencies), 1),
                            "p90": round(latencies[int(0.9 * (len(latencies) - 1))], 1),
                            "max": round(latencies[-1], 1)} if latencies else None,
        "sends": sends, "sends_per_account": {a: len(t) for a, t in sorted(watch.sends_by_account.items())},
        "achieved_sends_per_minute_per_account": per_account_rate,
        "other_sends": watch.other[:5],
        "most_waiting_per_account_and_lane_in_metrics": dict(sorted(most.items())),
        "samples_taken": len(samples),
        "console_outbox_at_peak": max(samples, key=lambda s: sum(q["waiting"] for q in s["queues"]))["console"]
        if samples else [],
        "api_outbox_queues_at_peak": {f"{q['bot_id']}/{LANES[str(q['lane'])]}": q["waiting"] for q in max(
            samples, key=lambda s: sum(q["waiting"] for q in s["queues"]))["queues"]} if samples else {},
        "service_cpu_s_during_burst": round(cpu, 1),
    }


def under_five_minutes(result: dict) -> dict:
    """Sends per account per minute needed for the last send to go out 5 minutes after publication, when the
    sends spread evenly over the accounts (each group on one account) and the account is the bottleneck."""
    sends = result["sends"]
    needed_total = sends / 5  # per minute, all accounts together
    return {"sends_to_make": sends, "sends_per_minute_needed_all_accounts": math.ceil(needed_total),
            "per_account_limit_needed": {str(accounts): math.ceil(needed_total / accounts)
                                         for accounts in (4, 8, 16, 28, 32)},
            "note": "the gap (OUTBOX_MIN_INTERVAL_SECONDS + jitter) must also allow it: 60 / limit >= gap"}


def main() -> None:
    defaults = Settings(_env_file=None)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=4)
    parser.add_argument("--groups", type=int, default=40)
    parser.add_argument("--questions", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60, help="the questions come evenly over this long")
    parser.add_argument("--rate-per-minute", type=int, default=defaults.outbox_rate_per_minute)
    parser.add_argument("--min-interval", type=float, default=defaults.outbox_min_interval_seconds)
    parser.add_argument("--jitter", type=float, default=defaults.outbox_jitter_seconds)
    parser.add_argument("--sample", type=float, default=10, help="seconds between reads of /metrics")
    parser.add_argument("--give-up", type=float, default=7200, help="seconds to wait for the last answer")
    parser.add_argument("--database-url", default="", help="PostgreSQL base URL (default: a SQLite file)")
    parser.add_argument("--no-floor", action="store_true")
    args = parser.parse_args()
    if args.database_url:
        databases.BASE_URL, databases.ON_POSTGRES = args.database_url, args.database_url.startswith("postgresql")
    results: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                     "database": "postgresql" if databases.ON_POSTGRES else "sqlite"}
    with tempfile.TemporaryDirectory() as scratch_dir, databases.fresh_database(Path(scratch_dir), "burst") as url:
        scratch = Path(scratch_dir)
        if not args.no_floor:
            echo, echo_url = start_echo(scratch)
            try:
                results["floor_echo_bot"] = asyncio.run(echo_floor(echo_url, args))
            finally:
                echo.terminate()
                echo.wait()
        prepare_store(url, args.accounts, args.groups, args.questions)
        service = start_service(url, scratch, OUTBOX_RATE_PER_MINUTE=str(args.rate_per_minute),
                                OUTBOX_MIN_INTERVAL_SECONDS=str(args.min_interval),
                                OUTBOX_JITTER_SECONDS=str(args.jitter), OUTBOX_POLL_SECONDS="1",
                                METRICS_TOKEN="bench-metrics")
        try:
            results["service_rss_mb_after_start"] = rss_mb(service.process.pid)
            with httpx.Client(base_url=service.base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                              timeout=30) as admin:
                results["burst"] = asyncio.run(burst(service, args, admin))
            results["service_rss_mb_after_burst"] = rss_mb(service.process.pid)
        finally:
            service.stop()
    results["under_five_minutes"] = under_five_minutes(results["burst"])
    print(json.dumps(results, ensure_ascii=False, indent=1))


async def echo_floor(echo_url: str, args: argparse.Namespace) -> dict:
    """The same questions to the bare echo bot, which answers each at once: the framework's own time."""
    clients = [await NapCat(echo_url, self_id=str(FIRST_ACCOUNT + a), token=ACCESS_TOKEN).__aenter__()
               for a in range(args.accounts)]
    await asyncio.sleep(0.5)
    started = time.perf_counter()
    answered: list[float] = []

    async def collect(client: NapCat) -> None:
        while True:
            call = await client.next_call("send", timeout=86_400)
            answered.append(call["received_at"] - started)

    readers = [asyncio.create_task(collect(client)) for client in clients]
    for n in range(args.questions):
        delay = started + n * args.seconds / args.questions - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await clients[n % args.accounts].group_message(FIRST_GROUP + n % args.groups, FIRST_RETAILER + n, "我能订多少")
    async with asyncio.timeout(120):
        while len(answered) < args.questions:
            await asyncio.sleep(0.2)
    for reader in readers:
        reader.cancel()
    for client in clients:
        await client.__aexit__()
    return {"questions": args.questions, "every_answer_at_s": round(max(answered), 1)}


if __name__ == "__main__":
    main()
