"""Runs the real service (`python -m bot`) in a subprocess, as a deployment would."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
ACCESS_TOKEN = "test-onebot-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RunningService:
    process: subprocess.Popen
    base_url: str
    ws_url: str
    database_url: str
    log_path: Path

    def client(self, token: str | None = ADMIN_TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as when the machine or the OOM killer takes the process."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_service(database_url: str, log_dir: Path, *, module: str = "bot", **env: str) -> RunningService:
    """`python -m bot` (or another `module` of the repository that runs it, such as bench/traced_service.py)
    on a free port, once `/healthz` answers."""
    port = free_port()
    log_path = log_dir / f"service-{port}.log"
    knowledge = log_dir / f"knowledge-{port}"  # curation writes files: never into the repository
    shutil.copytree(ROOT / "knowledge", knowledge)
    environment = {
        **os.environ, "HOST": "127.0.0.1", "PORT": str(port), "DATABASE_URL": database_url,
        "ADMIN_TOKEN": ADMIN_TOKEN, "ONEBOT_ACCESS_TOKEN": ACCESS_TOKEN, "LOG_LEVEL": "WARNING",
        "KNOWLEDGE_DIR": str(knowledge), "OUTBOX_POLL_SECONDS": "0.05", "OUTBOX_MIN_INTERVAL_SECONDS": "0",
        "OUTBOX_JITTER_SECONDS": "0",
        "OUTBOX_RATE_PER_MINUTE": "6000",
        **env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", module], cwd=log_dir, env=environment,
                                   stdout=log, stderr=subprocess.STDOUT)
    service = RunningService(process, f"http://127.0.0.1:{port}",
                             f"ws://127.0.0.1:{port}/onebot/v11/ws", database_url, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited with {process.returncode}:\n{service.log()}")
        try:
            if httpx.get(f"{service.base_url}/healthz", timeout=1).status_code == 200:
                return service
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    service.stop()
    raise RuntimeError(f"service did not come up:\n{service.log()}")


def seconds_policy(due: str, ladder: str, warn_at: float = 0.5) -> str:
    """A policy file whose reply pledge runs in seconds on a calendar that never closes, so a test sees the
    warning, the breach and the ladder happen (`ladder` is the TOML list of steps)."""
    return f"""
sweep_seconds = 0.2
[calendars.always]
periods = ["00:00-23:59"]
workdays = "every_day"
[pledges.reply]
due = "{due}"
calendar = "always"
warn_at = {warn_at}
ladder = {ladder}
"""
