"""Intake under load: many retailers posting in many groups over real OneBot WebSockets.

Starts the real service (`python -m bot`) and, as the framework's floor, a bare NoneBot echo bot;
drives both with the same NapCat-like clients and reports, for each:
- latency (p50/p99) from event sent to acknowledgement received, at a fixed offered rate;
- the highest sustained rate, from a closed loop of concurrent retailers, and the CPU time the process
  took per request meanwhile (steadier than the rates when other work shares the machine: their ratio,
  `floor_vs_service_cpu_per_request`, is what the two would reach with a core each to themselves).
Every request comes from a new retailer, so each one opens a ticket. Acknowledgements go through the
outbox: the service runs with the outbox's rate limit at 600,000 sends a minute per bot account, so the
figure is the engine's, not the pacing QQ's risk control needs (30 a minute by default).

With `--instances 2` (PostgreSQL), the same load also goes to two service processes on one database, the
bot accounts' connections split between them (account k to instance k mod 2, as a deployment behind two
NapCat configurations would), after the one-instance run on a database of its own; the CPU time is both
processes' together. Each process's RSS after start and after its load is reported.

    .venv/bin/python bench/intake_load.py [--rate 200] [--seconds 20] [--database-url URL] [--instances 2]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.databases import fresh_database  # noqa: E402
from tests.support.napcat import NapCat  # noqa: E402
from tests.support.service import ACCESS_TOKEN, ADMIN_TOKEN, free_port, start_service  # noqa: E402

QUESTIONS = ["扫码枪扫不出来怎么办", "订货平台登录不上", "这周中华能订几条？", "送货少送了两条",
             "许可证快到期了怎么延续", "终端黑屏了开不了机", "新品什么时候到", "下次培训是哪天"]
BOTS, GROUPS_PER_BOT = 4, 10
_users = itertools.count(1_000_000)


class Load:
    def __init__(self, clients: list[NapCat], groups: list[list[int]]) -> None:
        self.clients, self.groups = clients, groups
        self.latencies: list[float] = []
        self.pending: dict[int, asyncio.Future] = {}
        self.asked_by: dict[int, int] = {}  # retailer -> their question's message id
        self.readers = [asyncio.create_task(self._collect(c)) for c in clients]

    async def _collect(self, client: NapCat) -> None:
        while True:
            call = await client.next_call("send", timeout=3600)
            segments = call["params"]["message"]
            # one acknowledgement quotes the question; several due together are combined into one
            # message that mentions each retailer instead
            answered = [int(s["data"]["id"]) for s in segments if s["type"] == "reply"] or [
                self.asked_by.pop(int(s["data"]["qq"]), None) for s in segments if s["type"] == "at"]
            for quoted in filter(None, answered):
                if quoted not in client.sent_at:
                    continue
                self.latencies.append(call["received_at"] - client.sent_at.pop(quoted))
                if future := self.pending.pop(quoted, None):
                    future.set_result(None)

    async def ask(self, n: int, wait: bool) -> None:
        client = self.clients[n % len(self.clients)]
        group = self.groups[n % len(self.clients)][n // len(self.clients) % GROUPS_PER_BOT]
        user = next(_users)
        message_id = await client.group_message(group, user, QUESTIONS[n % len(QUESTIONS)])
        self.asked_by[user] = message_id
        if wait:
            future = asyncio.get_running_loop().create_future()
            self.pending[message_id] = future
            await asyncio.wait_for(future, 30)

    async def open_loop(self, rate: float, seconds: float) -> dict:
        """Offer `rate` requests per second, whatever the answers do."""
        self.latencies.clear()
        total, start = int(rate * seconds), time.perf_counter()
        for n in range(total):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.ask(n, wait=False)
        offered = total / (time.perf_counter() - start)
        async with asyncio.timeout(60):
            while len(self.latencies) < total:
                await asyncio.sleep(0.05)
        ordered = sorted(self.latencies)
        return {"offered_per_s": round(offered, 1), "answered": len(ordered),
                "p50_ms": round(1000 * statistics.median(ordered), 1),
                "p99_ms": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 1),
                "max_ms": round(1000 * ordered[-1], 1)}

    async def closed_loop(self, workers: int, seconds: float, pids: list[int]) -> dict:
        """As fast as answers come back: each of `workers` retailers asks again once answered; with the
        CPU time the processes `pids` spent per request meanwhile."""
        done, deadline, numbers = 0, time.perf_counter() + seconds, itertools.count()
        cpu_before, machine_before = sum(map(cpu_seconds, pids)), machine_cpu_seconds()
        database_before = database_cpu_seconds()

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await self.ask(next(numbers), wait=True)
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(workers)))
        elapsed, cpu = time.perf_counter() - start, sum(map(cpu_seconds, pids)) - cpu_before
        machine = machine_cpu_seconds() - machine_before
        database = database_cpu_seconds() - database_before
        return {"workers": workers, "requests_per_s": round(done / elapsed, 1),
                "cpu_ms_per_request": round(1000 * cpu / done, 2), "cpu_busy": round(cpu / elapsed, 2),
                "machine_cpu_busy": round(machine / elapsed, 2),
                "database_cpu_ms_per_request": round(1000 * database / done, 2)}

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        for client in self.clients:
            await client.__aexit__()


async def connect(ws_urls: list[str], groups: list[list[int]]) -> Load:
    clients = []
    for bot in range(BOTS):
        client = NapCat(ws_urls[bot % len(ws_urls)], self_id=str(20_000 + bot), token=ACCESS_TOKEN)
        clients.append(await client.__aenter__())
    await asyncio.sleep(0.5)  # let the adapter register every bot before the first event
    return Load(clients, groups)


def group_numbers() -> list[list[int]]:
    return [[600_000 + bot * 100 + g for g in range(GROUPS_PER_BOT)] for bot in range(BOTS)]


def register_groups(base_url: str) -> None:
    """The load's groups, registered through the admin API."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as admin:
        for number in itertools.chain.from_iterable(group_numbers()):
            admin.post("/api/v1/groups", json={"group_id": str(number)}).raise_for_status()


def rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux: /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for {pid}")


def machine_cpu_seconds() -> float:
    """CPU time all cores spent busy so far, every process (the database, this load, other work) included:
    how close the machine is to saturation (Linux: /proc/stat)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds() -> float:
    """CPU time of the local PostgreSQL server's processes so far (0 on SQLite, or a server elsewhere)."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "comm").read_text().strip() == "postgres":
                total += cpu_seconds(int(proc.name))
        except OSError:  # it ended meanwhile
            continue
    return total


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux: /proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(ws_urls: list[str], rate: float, seconds: float, workers: int, pids: list[int]) -> dict:
    load = await connect(ws_urls, group_numbers())
    try:
        await load.open_loop(rate=50, seconds=2)  # warm-up
        fixed = await load.open_loop(rate=rate, seconds=seconds)
        peak = await load.closed_loop(workers=workers, seconds=seconds / 2, pids=pids)
    finally:
        await load.close()
    return {**fixed, "max_" + "requests_per_s": peak["requests_per_s"], "closed_loop_workers": workers,
            "cpu_ms_per_request": peak["cpu_ms_per_request"], "cpu_busy": peak["cpu_busy"],
            "machine_cpu_busy": peak["machine_cpu_busy"],
            "database_cpu_ms_per_request": peak["database_cpu_ms_per_request"]}


def start_echo(log_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "ONEBOT_ACCESS_TOKEN": ACCESS_TOKEN}
    log = (log_dir / "echo.log").open("wb")
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "echo_bot.py")], env=env,
                               stdout=log, stderr=subprocess.STDOUT, cwd=log_dir)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    return process, f"ws://127.0.0.1:{port}/onebot/v11/ws"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--instances", type=int, default=1, help="also run this many instances on one database")
    args = parser.parse_args()

    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        echo, echo_url = start_echo(scratch)
        try:
            results["floor_echo_bot"] = asyncio.run(measure([echo_url], args.rate, args.seconds, args.workers,
                                                            [echo.pid]))
        finally:
            echo.terminate()
            echo.wait()

        if args.database_url:
            os.environ["TEST_DATABASE_URL"] = args.database_url
        import tests.support.databases as databases

        databases.BASE_URL = os.environ.get("TEST_DATABASE_URL", "")
        databases.ON_POSTGRES = databases.BASE_URL.startswith("postgresql")
        results["service"] = run_service(scratch, args, instances=1)
        if args.instances > 1:
            results[f"service_{args.instances}_instances"] = run_service(scratch, args, instances=args.instances)
    floor, ours = results["floor_echo_bot"]["max_requests_per_s"], results["service"]["max_requests_per_s"]
    results["service_vs_floor_throughput"] = round(ours / floor, 2)
    # on a busy machine the throughputs swing; the CPU each request takes is steadier
    results["floor_vs_service_cpu_per_request"] = round(
        results["floor_echo_bot"]["cpu_ms_per_request"] / results["service"]["cpu_ms_per_request"], 2)
    if args.instances > 1:
        several = results[f"service_{args.instances}_instances"]["max_requests_per_s"]
        results[f"{args.instances}_instances_vs_one_throughput"] = round(several / ours, 2)
        results[f"{args.instances}_instances_vs_floor_throughput"] = round(several / floor, 2)
    print(json.dumps(results, ensure_ascii=False, indent=2))


def run_service(scratch: Path, args: argparse.Namespace, instances: int) -> dict:
    """The load on `instances` service processes sharing one fresh database."""
    with fresh_database(scratch, "bench") as url:
        services = []
        try:
            for _ in range(instances):
                services.append(start_service(url, scratch, OUTBOX_POLL_SECONDS="1",
                                              OUTBOX_RATE_PER_MINUTE="600000"))
            time.sleep(3)  # each builds its knowledge index once it serves: not part of the load
            rss_after_start = [rss_mb(service.process.pid) for service in services]
            register_groups(services[0].base_url)
            result = asyncio.run(measure([service.ws_url for service in services], args.rate, args.seconds,
                                         args.workers, [service.process.pid for service in services]))
            result["database"] = url.split(":")[0]
            result["instances"] = instances
            result["rss_mb_after_start"] = rss_after_start
            result["rss_mb_after_load"] = [rss_mb(service.process.pid) for service in services]
            with httpx.Client(base_url=services[0].base_url,
                              headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as admin:
                page = admin.get("/api/v1/tickets", params={"limit": 1}).json()
                result["tickets_stored"] = page["total"]
            return result
        finally:
            for service in services:
                service.stop()


if __name__ == "__main__":
    main()
