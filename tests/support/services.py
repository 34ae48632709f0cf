"""Find the real local services the tests need, or start our own; never skip silently.

Mosquitto: use 127.0.0.1:1883 when it answers, else start ``mosquitto`` on a free port.
PostgreSQL: use 127.0.0.1:5432 (trust auth) and create a database per test session.
When neither can be had, fail with a message that says how to get it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


class ServiceUnavailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        time.sleep(0.05)
    return False


@dataclass
class Broker:
    host: str
    port: int
    prefix: str  # topic prefix unique to this test run
    process: subprocess.Popen | None = None

    def stop(self) -> None:
        """Stop an owned broker (for outage tests)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def start(self) -> None:
        """(Re)start an owned broker on the same port."""
        if self.process is None or self.process.poll() is None:
            return
        self.process = _spawn_mosquitto(self.port)


def _spawn_mosquitto(port: int) -> subprocess.Popen:
    exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    if exe is None:
        raise ServiceUnavailable(
            "Mosquitto is needed for this test: run `bash scripts/setup.sh` (installs it with "
            "apt-get install mosquitto) or start one on 127.0.0.1:1883"
        )
    conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)  # noqa: SIM115 - kept for the broker
    # Mosquitto queues only 1000 QoS 1 messages per client by default and drops the rest.
    conf.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
               "max_queued_messages 1000000\nmax_inflight_messages 1000\n")
    conf.close()
    proc = subprocess.Popen([exe, "-c", conf.name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_port("127.0.0.1", port, 10):
        proc.kill()
        raise ServiceUnavailable(f"started {exe} on port {port} but it did not listen within 10 s")
    return proc


@contextmanager
def shared_broker() -> Iterator[Broker]:
    """The machine's broker if it runs, else one of our own. Isolated by a topic prefix."""
    prefix = f"test-{uuid.uuid4().hex[:8]}/seat/v1"
    if port_open("127.0.0.1", 1883):
        yield Broker("127.0.0.1", 1883, prefix)
        return
    with own_broker(prefix) as b:
        yield b


@contextmanager
def own_broker(prefix: str | None = None) -> Iterator[Broker]:
    """A private Mosquitto that a test may stop and start (outage tests)."""
    port = free_port()
    proc = _spawn_mosquitto(port)
    b = Broker("127.0.0.1", port, prefix or f"test-{uuid.uuid4().hex[:8]}/seat/v1", proc)
    try:
        yield b
    finally:
        if b.process and b.process.poll() is None:
            b.process.terminate()
            try:
                b.process.wait(10)
            except subprocess.TimeoutExpired:
                b.process.kill()


PG_HOST = os.environ.get("SEAT_TEST_PGHOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SEAT_TEST_PGPORT", "5432"))
PG_USER = os.environ.get("SEAT_TEST_PGUSER", "postgres")


def _pg_admin_exec(sql: str) -> None:
    import asyncio

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a fresh database and yield its SQLAlchemy async URL; drop it afterwards."""
    if not port_open(PG_HOST, PG_PORT):
        raise ServiceUnavailable(
            f"PostgreSQL is needed on {PG_HOST}:{PG_PORT} (trust auth). Install it with "
            "`apt-get install postgresql` and start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, "
            "or point SEAT_TEST_PGHOST/SEAT_TEST_PGPORT/SEAT_TEST_PGUSER at one"
        )
    name = f"seat_test_{uuid.uuid4().hex[:10]}"
    try:
        _pg_admin_exec(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        raise ServiceUnavailable(f"cannot create a test database on PostgreSQL {PG_HOST}:{PG_PORT}: {exc}") from exc
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        try:
            _pg_admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception:
            pass
