"""Where an intake request's time goes: the statements and round trips each one costs, and a CPU profile.

Runs the real service (through bench/traced_service.py, which counts statements at the driver) under the load of
bench/intake_load.py (every request from a new retailer, so each opens a ticket and is acknowledged through the
outbox, rate limit set high so the engine is measured) and reports per request:
- the statements by verb and table, with their total; on PostgreSQL also the transactions (each costs a BEGIN
  and a COMMIT round trip besides its statements) from the server's statistics, and the round trips in all;
- with `--profile`: py-spy samples the service process meanwhile; the share of CPU samples by where the
  innermost frame is (our code, SQLAlchemy, the driver, NoneBot, pydantic, the WebSocket, asyncio ...) and the
  inclusive share of the functions of ours that take most.

    .venv/bin/python bench/intake_profile.py [--database-url URL] [--requests 2000] [--rate 100] [--profile]

py-spy is not a dependency: `pip install py-spy` for `--profile` (it reads another process's memory: root, or
ptrace allowed).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.intake_load import connect, group_numbers, register_groups  # noqa: E402
from tests.support.databases import fresh_database  # noqa: E402
from tests.support.service import start_service  # noqa: E402

# where a sample's innermost Python frame is: in a call into the database driver (the C driver's time is spent
# there), else by the file's path; the first that matches names it
DRIVER_CALLS = re.compile(r"^(?:Prepared\.execute(?:_many)?|DefaultDialect\.do_\w+|\w*Dialect\w*\.do_\w+|"
                          r"Connection\.(?:commit|rollback|execute)|Cursor\.\w+) ")
PLACES = [("ours", re.compile(r"^(?:bot|plugins|api)/")), ("sqlalchemy", re.compile(r"^sqlalchemy/")),
          ("sqlmodel", re.compile(r"^sqlmodel/")), ("driver", re.compile(r"^psycopg|sqlite3")),
          ("nonebot", re.compile(r"^nonebot")), ("pydantic", re.compile(r"^pydantic")),
          ("websocket/http", re.compile(r"^(?:websockets|uvicorn|starlette|fastapi|h11|httpx|anyio)/")),
          ("jieba", re.compile(r"^jieba/")), ("logging", re.compile(r"^(?:logging|loguru)/")),
          ("asyncio", re.compile(r"^asyncio/")), ("json", re.compile(r"^json/"))]
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^:()]+)(?::\d+)?\)$")


def place(frame: str) -> str:
    if DRIVER_CALLS.match(frame):
        return "database calls"
    match = _FRAME.match(frame)
    path = match.group("file") if match else frame
    return next((name for name, pattern in PLACES if pattern.search(path)), "other")


def summarise_profile(raw: Path, top: int) -> dict:
    """py-spy's collapsed stacks (`a;b;c count`) -> share of samples by place (self) and by our function
    (inclusive)."""
    by_place: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count, frames = int(count_text), stack.split(";")
        total += count
        by_place[place(frames[-1])] += count
        for name in {f"{match['function']} ({match['file']})" for frame in frames if place(frame) == "ours"
                     and (match := _FRAME.match(frame)) and match["file"] != "bot/__main__.py"}:
            ours[name] += count
    return {"samples": total,
            "self_share_by_place": {name: round(n / total, 3) for name, n in by_place.most_common()},
            "inclusive_share_of_ours": {name: round(n / total, 3) for name, n in ours.most_common(top)}}


def transactions(url: str) -> int:
    """Committed and rolled-back transactions of the database so far (PostgreSQL's statistics)."""
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute("SELECT pg_stat_clear_snapshot()")
        row = connection.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                                 "WHERE datname = current_database()").fetchone()
    assert row is not None
    return int(row[0])


def snapshot(pid: int, trace: Path) -> collections.Counter[str]:
    trace.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while not trace.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return collections.Counter(json.loads(trace.read_text(encoding="utf-8")))


def measure(args: argparse.Namespace, scratch: Path) -> dict:
    trace = scratch / "statements.json"
    with fresh_database(scratch, "profile") as url:
        service = start_service(url, scratch, module="bench.traced_service", PYTHONPATH=str(ROOT),
                                TRACE_FILE=str(trace), OUTBOX_POLL_SECONDS="1", OUTBOX_RATE_PER_MINUTE="600000")
        try:
            time.sleep(3)  # the knowledge index is built once the service serves
            register_groups(service.base_url)

            async def load(seconds: float, profile: Path | None) -> None:
                clients = await connect([service.ws_url], group_numbers())
                try:
                    await clients.open_loop(rate=50, seconds=2)  # warm-up
                    await asyncio.sleep(1.5)  # the warm-up's sends recorded
                    before, xacts_before = snapshot(service.process.pid, trace), \
                        transactions(url) if url.startswith("postgresql") else 0
                    spy = subprocess.Popen(["py-spy", "record", "--pid", str(service.process.pid), "--format", "raw",
                                            "--rate", "250", "--output", str(profile), "--nonblocking"],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if profile else None
                    fixed = await clients.open_loop(rate=args.rate, seconds=seconds)
                    await asyncio.sleep(1.5)
                    if spy is not None:
                        spy.send_signal(signal.SIGINT)
                        spy.wait(30)
                    after = snapshot(service.process.pid, trace)
                    xacts = transactions(url) - xacts_before if url.startswith("postgresql") else None
                    results.update(latency=fixed, statements=after - before, transactions=xacts)
                finally:
                    await clients.close()

            results: dict = {}
            profile = scratch / "profile.txt" if args.profile else None
            asyncio.run(load(args.requests / args.rate, profile))
        finally:
            service.stop()
    n = args.requests
    statements = {k: round(v / n, 2) for k, v in sorted(results["statements"].items(), key=lambda kv: -kv[1])}
    per_request = sum(results["statements"].values()) / n
    report = {"database": url.split(":")[0], "requests": n, "latency": results["latency"],
              "statements_per_request": round(per_request, 2), "statements_by_kind": statements}
    if results["transactions"] is not None:  # psycopg sends BEGIN and COMMIT as round trips of their own
        report["transactions_per_request"] = round(results["transactions"] / n, 3)
        report["round_trips_per_request"] = round(per_request + 2 * results["transactions"] / n, 2)
    if profile is not None:
        report["profile"] = summarise_profile(profile, args.top)
        if args.raw:
            shutil.copyfile(profile, args.raw)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100, help="requests offered per second")
    parser.add_argument("--profile", action="store_true", help="sample the service with py-spy")
    parser.add_argument("--top", type=int, default=25, help="how many of our functions to list")
    parser.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here (for a flame graph)")
    args = parser.parse_args()
    if args.profile and shutil.which("py-spy") is None:
        parser.error("--profile needs py-spy: pip install py-spy")
    if args.database_url:
        os.environ["TEST_DATABASE_URL"] = args.database_url
    import tests.support.databases as databases

    databases.BASE_URL = os.environ.get("TEST_DATABASE_URL", "")
    databases.ON_POSTGRES = databases.BASE_URL.startswith("postgresql")
    with tempfile.TemporaryDirectory() as scratch:
        report = measure(args, Path(scratch))
    report["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
