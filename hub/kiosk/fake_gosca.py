"""A fake GoSca server: a real HTTP server (stdlib, its own thread) speaking GoSca's seat-list
format, for ``seat-hub demo`` and the tests. It sends customer names (``uname``) like the real
one, so the tests can prove the hub never keeps them.

    fake = FakeGoSca(store_code="demo-sca")      # the demo's room, states changing over time
    fake.start(); fake.url                       # http://127.0.0.1:PORT
    fake.mode = "down" | "slow" | "garbage" | "ok"
    fake.set_seats([...components...])           # replace the room (a changing seat list)
    fake.stop()
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

FAKE_NAMES = ("김민지", "이서준", "박지우", "최하은", "정도윤", "Kim Minji")


def chair(section: str, row: int, col: int, *, in_use: bool = False, name: str = "", product: str = "일일권 4시간",
          remain: str = "", walls: str = "") -> dict[str, Any]:
    """One GoSca component (a seat) as the real system sends it."""
    return {
        "celltype": "chair", "section": section, "cell_row": row, "cell_col": col,
        "chairtbl_id": abs(hash((section, row, col))) % 100000, "prdname": product,
        "cuseyn": "Y" if in_use else "N", "uname": name, "remaintimeval": remain,
        "product": [{"pcost": 5000}],
        "walltop": int("t" in walls), "wallbottom": int("b" in walls),
        "wallleft": int("l" in walls), "wallright": int("r" in walls),
    }


# The demo room. Mapped to the sample camera's seats: a01 -> A-1-1, a02 -> A-1-2, b01 -> B-1-1,
# b02 -> B-1-2. Disagreements on purpose: A-1-2 is paid and checked in while the camera sees only
# belongings (hogging); B-1-1 is free while the camera sees a man working there (unpaid use).
DEMO_MAPPING = {"a01": "A-1-1", "a02": "A-1-2", "b01": "B-1-1", "b02": "B-1-2"}


def demo_room(elapsed_s: float) -> list[dict[str, Any]]:
    cycle = int(elapsed_s // 40) % 3  # unmapped seats change every 40 s, so the plan visibly lives
    left = max(0, 240 - int(elapsed_s // 60))
    rem = f"{left // 60:02d}:{left % 60:02d}"
    comps = [
        chair("A", 1, 1, in_use=True, name=FAKE_NAMES[0], product="고정석 4주", remain="312:00", walls="tl"),
        chair("A", 1, 2, in_use=True, name=FAKE_NAMES[1], remain=rem, walls="t"),
        chair("A", 1, 3, in_use=cycle != 0, name=FAKE_NAMES[2] if cycle != 0 else "", remain="01:20", walls="t"),
        chair("A", 1, 4, name=FAKE_NAMES[3], product="고정석 4주", remain="200:00", walls="tr"),  # sold, not in
        chair("A", 2, 1, walls="bl"),
        chair("A", 2, 2, in_use=cycle == 1, name=FAKE_NAMES[4] if cycle == 1 else "", product="충전권 50시간",
              remain="23:10", walls="b"),
        chair("A", 2, 3, walls="b"),
        chair("A", 2, 4, in_use=True, name=FAKE_NAMES[5], remain="02:45", walls="br"),
        chair("B", 1, 1, walls="tl"),
        chair("B", 1, 2, walls="t"),
        chair("B", 1, 3, in_use=cycle == 2, name=FAKE_NAMES[0] if cycle == 2 else "", remain="00:50", walls="tr"),
        chair("B", 2, 1, walls="bl"),
        chair("B", 2, 2, walls="b"),
        chair("B", 2, 3, in_use=True, name=FAKE_NAMES[2], product="충전권 20시간", remain="05:30", walls="br"),
    ]
    return [{"celltype": "wall", "section": "A", "cell_row": 0, "cell_col": 0}, *comps]


class FakeGoSca:
    def __init__(self, store_code: str = "demo-sca", seats: list[dict[str, Any]] | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.store_code = store_code
        self._fixed = seats  # None: the demo room, changing over time
        self.mode = "ok"
        self.slow_s = 30.0
        self.requests = 0
        self._t0 = time.monotonic()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                fake.requests += 1
                parts = urlsplit(self.path)
                if parts.path != "/gosca/seatlist":
                    self._send(404, b'{"error":"not found"}')
                    return
                if parse_qs(parts.query).get("pstore") != [fake.store_code]:
                    self._send(200, json.dumps({"components": [], "msg": "unknown store"}).encode())
                    return
                mode = fake.mode
                if mode == "down":
                    self._send(503, b"<html>Service Unavailable</html>", "text/html")
                elif mode == "slow":
                    time.sleep(fake.slow_s)
                    self._send(200, fake.body())
                elif mode == "garbage":
                    self._send(200, b"<html><body>\xff\xfe login required</body></html>", "text/html")
                elif mode == "wrongjson":
                    self._send(200, b'{"result": "ok", "data": [1, 2, 3]}')
                else:
                    self._send(200, fake.body())

            def _send(self, code: int, body: bytes, ctype: str = "application/json; charset=utf-8") -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def components(self) -> list[dict[str, Any]]:
        with self._lock:
            if self._fixed is not None:
                return list(self._fixed)
        return demo_room(time.monotonic() - self._t0)

    def body(self) -> bytes:
        return json.dumps({"result": "success", "components": self.components()}, ensure_ascii=False).encode()

    def set_seats(self, seats: list[dict[str, Any]]) -> None:
        with self._lock:
            self._fixed = list(seats)

    def start(self) -> FakeGoSca:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-gosca", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
