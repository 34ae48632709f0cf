"""`seat-hub demo`: the whole system on one machine, for a first look.

Starts a private Mosquitto, the hub on its embedded defaults (SQLite in ./var/demo), and one edge
agent (`seat-edge demo`, a separate process: the hub never imports the edge) fed by the built-in
sample camera. Prints the dashboard URL; with ``--for`` it stops after that many seconds, exit 0.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from hub.kiosk.demo import DemoKiosk
from hub.settings import DatabaseSettings, HttpSettings, HubSettings, MqttSettings, load_settings


class DemoError(RuntimeError):
    pass


class _Terminated(Exception):
    """SIGTERM arrived: unwind through ``finally`` so the broker and the edge stop too (Python's
    default SIGTERM action ends the process on the spot and leaves them running)."""


def _on_sigterm(signum, frame) -> None:
    raise _Terminated


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the demo dies, even by SIGKILL (Linux prctl)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.3):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def start_broker(workdir: Path) -> tuple[subprocess.Popen, int]:
    exe = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)), None)
    if exe is None:
        raise DemoError("the demo starts its own MQTT broker and needs Mosquitto: "
                        "`apt-get install mosquitto` (scripts/setup.sh installs it)")
    port = _free_port()
    conf = workdir / "mosquitto.conf"
    # Mosquitto queues only 1000 QoS 1 messages per client by default and drops the rest.
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 1000000\nmax_inflight_messages 1000\n")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    if not _wait_port(port, 10):
        proc.kill()
        raise DemoError(f"Mosquitto ({exe}) did not listen on port {port}")
    return proc, port


DEMO_USER, DEMO_PASSWORD = "admin", "demo-admin"


async def _demo_user(app) -> None:
    """The demo's dashboard login (its database is the demo's own; served on 127.0.0.1 only)."""
    from hub.auth.users import AuthError, add_user

    async with app.state.sessionmaker() as db:
        try:
            await add_user(db, DEMO_USER, DEMO_PASSWORD, "admin", actor="demo", password_policy=False)
        except AuthError:
            return  # exists from an earlier run
        await db.commit()


DEMO_STORES = 2  # two stores, so that the HQ overview and its comparison chart compare something


def demo_store_ids(store: str, n: int = DEMO_STORES) -> list[str]:
    """The same ids `seat-edge demo --stores N` reports as (the hub never imports the edge)."""
    return [store] + [f"{store}-{i}" for i in range(2, n + 1)]


async def _seed_history_when_seats_arrive(app, store_ids: list[str], until: float, timeout: float = 180) -> None:
    """A week of generated history (marked) once each store's edge has told the hub its seats."""
    from sqlalchemy import func, select

    from hub.db.models import Seat
    from hub.demo_history import seed_history

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with app.state.sessionmaker() as db:
            have = set((await db.execute(select(Seat.store_id).where(Seat.store_id.in_(store_ids))
                                         .group_by(Seat.store_id).having(func.count() > 0))).scalars())
            if have >= set(store_ids):
                added = await seed_history(db, store_ids, until)
                await db.commit()
                if added:
                    print(f"History: {added} generated demo events over the last 7 days (marked as generated)",
                          flush=True)
                return
        await asyncio.sleep(1.0)


def _stop(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def run_demo(port: int = 8080, for_s: float | None = None, store: str = "demo", config: Path | None = None,
             workdir: Path | None = None) -> int:
    import uvicorn

    from hub.app import create_app
    from hub.system.preflight import Busy, FolderLock, check_port

    workdir = Path(workdir or "var/demo").resolve()
    # Before anything is written: a demo already running here keeps its log, broker and database.
    lock = FolderLock(workdir, "demo.lock")
    try:
        lock.acquire("seat-hub demo")
        check_port("127.0.0.1", port)
    except Busy as exc:
        lock.release()
        print(f"Demo error: {exc}", file=sys.stderr)
        return 2
    base = load_settings(config) if config else HubSettings()
    broker = edge = None
    kiosk = DemoKiosk(store)  # issue 18: a fake GoSca for the floor plan and reconciliation alerts
    # uvicorn handles SIGTERM while it serves, then re-raises it: this handler gets it either way.
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        broker, mqtt_port = start_broker(workdir)
        prefix = base.mqtt.topic_prefix
        settings = HubSettings(
            database=DatabaseSettings(url=f"sqlite+aiosqlite:///{workdir / 'hub.sqlite'}") if config is None
            else base.database,
            mqtt=MqttSettings(host="127.0.0.1", port=mqtt_port, topic_prefix=prefix),
            http=HttpSettings(host="127.0.0.1", port=port),
            alerts=base.alerts,
            edge_timeout_s=30.0,
            kiosk=kiosk.settings(),
        )
        app = create_app(settings, migrate=True)
        log = open(workdir / "edge.log", "w")  # noqa: SIM115 - the edge process writes it until the demo ends
        local_port = _free_port()
        edge = subprocess.Popen(
            [sys.executable, "-m", "edge_agent.cli", "demo", "--store", store, "--stores", str(DEMO_STORES),
             "--mqtt-port", str(mqtt_port),
             "--topic-prefix", prefix, "--workdir", str(workdir / "edge"), "--local-port", str(local_port)],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))

        async def main() -> int:
            task = asyncio.create_task(server.serve())
            while not server.started:
                if task.done():
                    return 1
                await asyncio.sleep(0.05)
            print(f"Dashboard: http://127.0.0.1:{port}/stores/{store}  (all stores: http://127.0.0.1:{port}/)",
                  flush=True)
            seeding = None
            if config is None:  # generated history goes into the demo's own database only
                seeding = asyncio.create_task(_seed_history_when_seats_arrive(
                    app, demo_store_ids(store), time.time() - 300))
            if config is None:  # never add a known password to a real (configured) database
                await _demo_user(app)
                print(f"Dashboard login: {DEMO_USER} / {DEMO_PASSWORD} (an admin of this demo database only)",
                      flush=True)
            else:
                print("Dashboard login: a user of that database (`seat-hub user add --config ...`)", flush=True)
            print(f"Store staff fallback page (served by the edge): http://127.0.0.1:{local_port}/ "
                  f"(password: demo-store)", flush=True)
            print(f"Edge log: {workdir / 'edge.log'}. Every seat state shows within two minutes "
                  f"(stores: {', '.join(demo_store_ids(store))}). Ctrl-C stops.", flush=True)
            kiosk.follow(app)
            deadline = None if for_s is None else time.monotonic() + for_s
            rc = 0
            while deadline is None or time.monotonic() < deadline:
                if edge.poll() is not None:
                    print(f"the demo edge stopped (exit {edge.returncode}); see {workdir / 'edge.log'}",
                          file=sys.stderr)
                    rc = 1
                    break
                if task.done():
                    rc = 1
                    break
                await asyncio.sleep(0.5)
            if seeding is not None:
                seeding.cancel()
            server.should_exit = True
            await task
            return rc

        try:
            return asyncio.run(main())
        except (KeyboardInterrupt, _Terminated):
            return 0
    except _Terminated:
        return 0
    except DemoError as exc:
        print(f"Demo error: {exc}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup short
        try:
            _stop(edge)
            _stop(broker)
            kiosk.stop()
        finally:
            lock.release()
            signal.signal(signal.SIGTERM, previous)
