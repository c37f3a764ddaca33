"""Event-loop stall during a 30,000-row directory import, on the real service.

Starts `python -m bot` on a fresh database (as tests/support/service.py does), then
probes GET /healthz every 20 ms while POST /api/v1/retailers/import runs: a first
load from CSV (30,000 created), the same rows as XLSX with every grade changed
(30,000 updated, with history), and a dry run of the CSV. The largest gap between
two answered probes is how long the loop was held. Run it against older code by
putting that code first on PYTHONPATH (the service is started with this environment).

    .venv/bin/python bench/import_stall.py [--rows 30000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_directory import make_file  # noqa: E402

from tests.support.service import ADMIN_TOKEN, start_service  # noqa: E402

PROBE_EVERY = 0.02


async def probe(client: httpx.AsyncClient, stop: asyncio.Event) -> tuple[list[float], list[float]]:
    """Latencies of /healthz, and gaps between answers (a held loop shows as one long gap)."""
    latencies, gaps, last = [], [], time.perf_counter()
    while not stop.is_set():
        sent = time.perf_counter()
        await client.get("/healthz")
        answered = time.perf_counter()
        latencies.append(answered - sent)
        gaps.append(answered - last)
        last = answered
        await asyncio.sleep(PROBE_EVERY)
    return latencies, gaps


async def phase(client: httpx.AsyncClient, name: str, content: bytes, filename: str, **params) -> dict:
    stop = asyncio.Event()
    probing = asyncio.create_task(probe(client, stop))
    await asyncio.sleep(0.3)  # the probe's baseline
    started = time.perf_counter()
    answer = await client.post("/api/v1/retailers/import", params=params, files={"file": (filename, content)})
    elapsed = time.perf_counter() - started
    stop.set()
    latencies, gaps = await probing
    report = answer.json()
    return {"phase": name, "status": answer.status_code, "import_s": round(elapsed, 2),
            "created": report.get("created"), "updated": report.get("updated"),
            "max_gap_ms": round(max(gaps) * 1000), "max_probe_ms": round(max(latencies) * 1000),
            "median_probe_ms": round(statistics.median(latencies) * 1000, 1), "probes": len(latencies)}


async def run(base_url: str, rows: int) -> list[dict]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=300) as client:
        for n in range(40):
            await client.post("/api/v1/staff", json={"name": f"经理{n}", "work_no": f"KM{n:03d}",
                                                     "roles": ["manager"]})
        spec = (await client.get("/openapi.json")).json()
        code = "new" if "413" in spec["paths"]["/api/v1/retailers/import"]["post"]["responses"] else "old"
        print(f"service code: {code}", file=sys.stderr)
        csv_file = make_file(rows, "csv")
        return [await phase(client, "csv create", csv_file, "x.csv"),
                await phase(client, "xlsx update", make_file(rows, "xlsx", grade_shift=1), "x.xlsx"),
                await phase(client, "csv dry run", csv_file, "x.csv", dry_run="true")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/stall.db"
        service = start_service(url, Path(folder))
        try:
            for result in asyncio.run(run(service.base_url, args.rows)):
                print(json.dumps(result, ensure_ascii=False))
        finally:
            service.stop()


if __name__ == "__main__":
    main()
