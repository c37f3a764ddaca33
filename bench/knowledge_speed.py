"""Knowledge retrieval speed with 1,000 entries, and service start-up with the base loaded.

1,000 entries are made from the real ones (each copied with its questions reworded by a
prefix), so the vocabulary and the postings are as large as a real base of that size. The questions timed are
held_out_a's (mostly short) and, reported apart, eval/dev4's stories with the question last (a long message not
answered as a whole is read a second time, from its last clauses: the slowest decisions).

    .venv/bin/python bench/knowledge_speed.py
"""

from __future__ import annotations

import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bot.services.knowledge import KnowledgeIndex, Thresholds, load_entries, load_out_of_scope  # noqa: E402
from tests.support.service import free_port  # noqa: E402

PREFIXES = ["", "老板问下", "请教", "麻烦问下", "我想知道", "有人知道", "客服", "店里", "我家", "昨天开始",
            "今天", "一直", "突然", "最近", "总是"]


def thousand_entries():
    real = load_entries(ROOT / "knowledge" / "entries")
    entries = []
    for copy in range((1000 + len(real) - 1) // len(real)):
        prefix = PREFIXES[copy % len(PREFIXES)] + ("" if copy < len(PREFIXES) else str(copy))
        for entry in real:
            entries.append(entry.model_copy(update={
                "id": f"{entry.id}-{copy}" if copy else entry.id,
                "question": prefix + entry.question,
                "similar": tuple(prefix + text for text in entry.similar)}))
    return entries[:1000]


def timed(index: KnowledgeIndex, questions: list[str]) -> dict:
    """A decision's p50 and p99, wall and CPU (the machine is shared: CPU time says what the other sessions hide)."""
    timings, cpu = [], []
    for question in questions:
        begin, begin_cpu = time.perf_counter(), time.thread_time()
        index.decide(question)
        timings.append((time.perf_counter() - begin) * 1000)
        cpu.append((time.thread_time() - begin_cpu) * 1000)
    timings.sort()
    cpu.sort()
    return {"queries": len(timings), "ms_p50": round(statistics.median(timings), 2),
            "ms_p99": round(timings[int(0.99 * (len(timings) - 1))], 2),
            "cpu_ms_p99": round(cpu[int(0.99 * (len(cpu) - 1))], 2)}


def main() -> None:
    thresholds = Thresholds.model_validate(yaml.safe_load((ROOT / "knowledge" / "thresholds.yaml").read_text()))
    held_out = yaml.safe_load((ROOT / "knowledge" / "eval" / "held_out_a.yaml").read_text())
    stories = yaml.safe_load((ROOT / "knowledge" / "eval" / "dev4" / "dev4_in_scope.yaml").read_text())
    memory_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, start_cpu = time.perf_counter(), time.process_time()
    index = KnowledgeIndex(thousand_entries(), thresholds, load_out_of_scope(ROOT / "knowledge" / "out_of_scope.yaml"))
    build, build_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    gc.freeze()  # as the service does once the index is built (bot.app): the collector no longer walks it
    for item in held_out[:50]:
        index.decide(item["text"])
    short = timed(index, [item["text"] for item in held_out] * 3)
    long = timed(index, [item["text"] for item in stories] * 3)

    with tempfile.TemporaryDirectory() as scratch:
        port = free_port()
        env = {**os.environ, "PORT": str(port), "DATABASE_URL": f"sqlite:///{scratch}/s.db", "LOG_LEVEL": "WARNING"}
        begin = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "bot"], env=env, cwd=scratch,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.02)
            started = time.perf_counter() - begin
            status = Path(f"/proc/{process.pid}/status").read_text()
            service_rss = int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])
        finally:
            process.terminate()
            process.wait()

    print(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "entries": len(index.entries), "index_build_s": round(build, 2), "index_build_cpu_s": round(build_cpu, 2),
        "held_out_questions": short, "stories_question_last": long,
        "index_memory_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memory_before) / 1024, 1),
        "service_start_to_healthy_s": round(started, 2),
        "service_memory_mb_after_start": round(service_rss / 1024, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
