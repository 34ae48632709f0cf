"""Shared by the benchmarks: one figure per row, printed and handed to the suite runner.

Every benchmark module is also a script. Run alone it prints its rows; run by ``python -m
bench`` it also writes them as JSON to the file named in ``--json`` so the runner can build
``docs/benchmarks.md``. Benchmarks report, they never fail on a missed target.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@dataclass
class Row:
    section: str  # the line: "edge", "detector", "seat logic", "wire", "ingest", "live", "memory", "stats"
    metric: str
    value: float | None  # None: not measured here (the note says why)
    unit: str
    target: str = ""  # "<= 24", ">= 20000", "" when the row is context only
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.value is None or not self.target:
            return None
        op, num = self.target.split()
        num_f = float(num.replace(",", ""))
        return {"<=": self.value <= num_f, ">=": self.value >= num_f, "<": self.value < num_f,
                ">": self.value > num_f}[op]


def parser(doc: str | None) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (the smoke test); figures are not meaningful")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON here (used by python -m bench)")
    return ap


def fmt(v: float | None) -> str:
    if v is None:
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def report(rows: list[Row], json_path: Path | None) -> None:
    for r in rows:
        met = {True: "ok", False: "MISS", None: ""}[r.met]
        print(f"{r.section:10} | {r.metric:55} | {fmt(r.value):>10} {r.unit:12} | {r.target:>10} {met:4} | {r.note}",
              flush=True)
    if json_path is not None:
        json_path.write_text(json.dumps([asdict(r) for r in rows]))


def load_rows(path: Path) -> list[Row]:
    return [Row(**d) for d in json.loads(path.read_text())]


def machine() -> str:
    import platform

    load = os.getloadavg() if hasattr(os, "getloadavg") else (0, 0, 0)
    return (f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), Python "
            f"{platform.python_version()}, load average {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}")


@contextlib.contextmanager
def hub_broker():
    """A private Mosquitto configured as a hub's broker should be: Mosquitto's default of 1000
    queued messages per client drops QoS 1 messages to a hub that falls behind for a moment
    (packaging/mosquitto-seat.conf sets the larger queue too). Yields its port."""
    import shutil
    import subprocess
    import tempfile

    from tests.support.services import free_port, wait_port

    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                "max_queued_messages 1000000\nmax_inflight_messages 1000\n")
    proc = subprocess.Popen([exe, "-c", f.name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_port("127.0.0.1", port, 10):
            raise SystemExit("mosquitto did not start")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        os.unlink(f.name)
