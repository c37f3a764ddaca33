"""Start-up: process start to a healthy `/healthz`, with the CPU time and memory it took.

Starts the real service (`python -m bot`, as the README does) `--runs` times in each condition and, as
the floor, the bare NoneBot + FastAPI echo bot (bench/echo_bot.py) to its first HTTP answer, the runs
of all conditions alternating so that the machine's noise falls on each alike. Conditions:
- `existing`: a database already at the newest schema (made once by a first start);
- `fresh`: a new, empty database each run (created and migrated at start);
- `cold-jieba` (with `--cold-jieba`): an existing database, and jieba's dictionary cache removed first,
  as after a reboot or under systemd's PrivateTmp.
- `existing_compared` (with `--compare DIR`): as `existing`, the service's code taken from DIR (say a
  `git archive` of the previous commit), for a before/after in the same run.
For each run: wall time to healthy, the process's CPU time (user + system) at that moment, and its RSS
then and, after `--settle` seconds, again (work deferred past healthy shows there). Then the first
question's answer: a bound-less retailer asks one question in a registered group over a real OneBot
WebSocket, right at healthy, and the time to its acknowledgement is reported (it waits for anything
still being built in the background).

    .venv/bin/python bench/startup.py [--runs 5] [--database-url postgresql+psycopg://...] [--cold-jieba]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.intake_load import cpu_seconds, rss_mb  # noqa: E402
from tests.support import databases  # noqa: E402
from tests.support.napcat import NapCat  # noqa: E402
from tests.support.service import ACCESS_TOKEN, ADMIN_TOKEN, free_port  # noqa: E402

POLL = 0.02  # seconds between health probes: the resolution of the wall figure


def load_average() -> float:
    return os.getloadavg()[0]


def wait_healthy(process: subprocess.Popen, url: str, started: float, ok=lambda r: r.status_code == 200) -> dict:
    with httpx.Client(timeout=2) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"exited with {process.returncode}")
            try:
                if ok(client.get(url)):
                    break
            except httpx.TransportError:
                pass
            if time.perf_counter() - started > 120:
                raise RuntimeError("not healthy after 120 s")
            time.sleep(POLL)
    wall = time.perf_counter() - started
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu_seconds(process.pid), 2), "rss_mb": rss_mb(process.pid)}


def start_echo(scratch: Path) -> dict:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "ONEBOT_ACCESS_TOKEN": ACCESS_TOKEN}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "echo_bot.py")], env=env, cwd=scratch,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return wait_healthy(process, f"http://127.0.0.1:{port}/", started, ok=lambda r: True)
    finally:
        process.terminate()
        process.wait()


async def first_answer(ws_url: str, group: str) -> float:
    """A retailer's question right at healthy: seconds until the bot's acknowledgement is sent."""
    async with NapCat(ws_url, self_id="20000", token=ACCESS_TOKEN) as client:
        await asyncio.sleep(0.2)  # the adapter registers the account
        message_id = await client.group_message(int(group), 1_234_567, "扫码枪扫不出来怎么办")
        while True:
            call = await client.next_call("send", timeout=60)
            quoted = [int(s["data"]["id"]) for s in call["params"]["message"] if s["type"] == "reply"]
            if message_id in quoted:
                return call["received_at"] - client.sent_at[message_id]


def start_service(scratch: Path, url: str, settle: float, ask: bool, code: str = "") -> dict:
    port = free_port()
    knowledge = scratch / "knowledge"
    if not knowledge.exists():
        shutil.copytree(ROOT / "knowledge", knowledge)
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "DATABASE_URL": url, "ADMIN_TOKEN": ADMIN_TOKEN,
           "ONEBOT_ACCESS_TOKEN": ACCESS_TOKEN, "LOG_LEVEL": "WARNING", "KNOWLEDGE_DIR": str(knowledge),
           "OUTBOX_MIN_INTERVAL_SECONDS": "0", "OUTBOX_JITTER_SECONDS": "0"}
    if code:
        env["PYTHONPATH"] = code
    log = (scratch / f"service-{port}.log").open("wb")
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "bot"], env=env, cwd=scratch, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        result = wait_healthy(process, f"http://127.0.0.1:{port}/healthz", started)
        if ask:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as admin:
                group = str(700_000 + port)
                admin.post("/api/v1/groups", json={"group_id": group}).raise_for_status()
            result["first_answer_s"] = round(asyncio.run(first_answer(f"ws://127.0.0.1:{port}/onebot/v11/ws",
                                                                      group)), 3)
        time.sleep(settle)
        result["rss_settled_mb"] = rss_mb(process.pid)
        result["cpu_settled_s"] = round(cpu_seconds(process.pid), 2)
        return result
    finally:
        process.terminate()
        process.wait()


def summary(runs: list[dict]) -> dict:
    """Per figure: median [min-max] over the runs."""
    return {key: f"{statistics.median(run[key] for run in runs):.2f} [{min(run[key] for run in runs)}-"
                 f"{max(run[key] for run in runs)}]" for key in runs[0]}


def jieba_cache() -> Path:
    return Path(tempfile.gettempdir()) / "jieba.cache"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default="", help="PostgreSQL base URL (default: SQLite files)")
    parser.add_argument("--settle", type=float, default=3, help="seconds after healthy before RSS is read again")
    parser.add_argument("--cold-jieba", action="store_true", help="also start with jieba's cache removed")
    parser.add_argument("--no-fresh", action="store_true", help="only the existing database")
    parser.add_argument("--compare", default="", help="a checkout of other code to start on the existing database")
    args = parser.parse_args()
    if args.database_url:
        databases.BASE_URL, databases.ON_POSTGRES = args.database_url, args.database_url.startswith("postgresql")
    conditions = ["floor_echo_bot", "existing"] + ([] if args.no_fresh else ["fresh"]) + (
        ["cold_jieba"] if args.cold_jieba else []) + (["existing_compared"] if args.compare else [])
    runs: dict[str, list[dict]] = {condition: [] for condition in conditions}
    loads = []
    with tempfile.TemporaryDirectory() as scratch_dir, \
            databases.fresh_database(Path(scratch_dir), "startup") as existing:
        scratch = Path(scratch_dir)
        start_service(scratch, existing, 0, ask=False)  # migrates it: later starts find it at head
        for _ in range(args.runs):
            for condition in conditions:
                loads.append(load_average())
                if condition == "floor_echo_bot":
                    runs[condition].append(start_echo(scratch))
                elif condition == "existing":
                    runs[condition].append(start_service(scratch, existing, args.settle, ask=True))
                elif condition == "existing_compared":
                    runs[condition].append(start_service(scratch, existing, args.settle, ask=True, code=args.compare))
                elif condition == "cold_jieba":
                    jieba_cache().unlink(missing_ok=True)
                    runs[condition].append(start_service(scratch, existing, args.settle, ask=True))
                else:
                    with databases.fresh_database(scratch, "fresh") as url:
                        runs[condition].append(start_service(scratch, url, args.settle, ask=True))
    print(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "database": "postgresql" if databases.ON_POSTGRES else "sqlite", "runs_each": args.runs,
        "compared_code": args.compare or None,
        "load_average_1min": f"{min(loads):.2f}-{max(loads):.2f}",
        **{condition: summary(found) for condition, found in runs.items()},
    }, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
