"""A real local webhook server (HTTP in a thread) that records what alert delivery posts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Hook:
    """Answers the queued status codes in order, then 200; records every request body."""

    statuses: list[int]
    delay_s: float = 0.0
    bodies: list[bytes] = field(default_factory=list)
    accepted: list[bytes] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook(statuses=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            state.bodies.append(body)
            if state.delay_s and len(state.bodies) == 1:
                time.sleep(state.delay_s)  # only the first request hangs past the client timeout
            code = state.statuses.pop(0) if state.statuses else 200
            if code == 200:
                state.accepted.append(body)
            self.send_response(code)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()

