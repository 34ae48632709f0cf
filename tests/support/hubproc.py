"""A real ``seat-hub serve`` process for the fault tests (so it can be SIGKILLed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.hub_auth import create_user, login
from tests.support.services import free_port
from tests.support.waiting import wait_for

SEAT_HUB = Path(sys.executable).parent / "seat-hub"


class HubProcess:
    def __init__(self, tmp_path: Path, broker, db_url: str, mqtt_extra: str = "", name: str = "hub",
                 group: str = "seat-hub", http_extra: str = "", extra: str = "") -> None:
        self.port = free_port()
        self.config = tmp_path / f"{name}.toml"
        self.log = tmp_path / f"{name}.log"
        # Only what a test environment needs; every MQTT session setting stays at its default
        # unless ``mqtt_extra`` says otherwise.
        self.config.write_text(
            f'[database]\nurl = "{db_url}"\n'
            f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\ntopic_prefix = "{broker.prefix}"\n'
            f'shared_group = "{group}"\n{mqtt_extra}\n'
            f'[http]\nhost = "127.0.0.1"\nport = {self.port}\n{http_extra}\n'
            f'[ingest]\nbatch_wait_ms = 20.0\n{extra}'
        )
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_url = db_url
        self.http: httpx.Client | None = None

    def start(self) -> HubProcess:
        log = open(self.log, "a")  # noqa: SIM115 - the hub writes it until it stops
        self.proc = subprocess.Popen([str(SEAT_HUB), "serve", "--config", str(self.config), "--log-level", "info"],
                                     stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
        wait_for(self.ready, timeout=30, what=f"seat-hub serve on {self.port} (log {self.log})")
        create_user(self.db_url, "admin", "admin")  # the schema exists now (serve migrates)
        self.http = httpx.Client(base_url=self.url, timeout=5)
        login(self.http, "admin")
        return self

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"seat-hub exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
        try:
            r = httpx.get(f"{self.url}/healthz", timeout=1)
        except httpx.HTTPError:
            return False
        return r.status_code == 200 and r.json().get("mqtt") == "connected"

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.http is not None:
            self.http.close()
            self.http = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)

    def get(self, path: str, **kw) -> httpx.Response:
        assert self.http is not None, "hub not started"
        try:
            return self.http.get(path, **kw)
        except httpx.HTTPError as exc:  # restarting: callers poll
            return httpx.Response(599, text=str(exc))

    def events(self, store: str = "store-a") -> list[dict]:
        out: list[dict] = []
        cursor = None
        while True:
            params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            r = self.get(f"/api/v1/stores/{store}/events", params=params)
            if r.status_code != 200:
                return out
            body = r.json()
            out += body["events"]
            cursor = body.get("next")
            if not cursor:
                return out
