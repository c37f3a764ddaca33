"""A stand-in for WeCom's and DingTalk's robot webhooks: a real HTTP server on 127.0.0.1 that records each
request and answers what the test queued (by default {"errcode": 0})."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Posted:
    path: str
    query: dict[str, str]
    body: dict


@dataclass
class RobotServer:
    base_url: str
    posted: list[Posted] = field(default_factory=list)
    answers: list[tuple[int, object]] = field(default_factory=list)  # (HTTP status, JSON body), used in turn
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str, key: str) -> str:
        return f"{self.base_url}{path}?{key}"

    def answer(self) -> tuple[int, object]:
        with self.lock:
            return self.answers.pop(0) if self.answers else (200, {"errcode": 0, "errmsg": "ok"})


@contextmanager
def robot_server() -> Iterator[RobotServer]:
    server_state: list[RobotServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state = server_state[0]
            parts = urllib.parse.urlsplit(self.path)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.posted.append(Posted(parts.path, dict(urllib.parse.parse_qsl(parts.query)), body))
            status, answer = state.answer()
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.append(RobotServer(f"http://127.0.0.1:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state[0]
    finally:
        server.shutdown()
        server.server_close()
