"""Runs the atheris (libFuzzer, coverage-guided) harness tests/faults/atheris_decoders.py for a
bounded number of inputs, seeded with real messages of every kind. Zero crashes allowed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

from protocol import (
    Birth,
    ChannelHealth,
    ConfigAck,
    Death,
    Delta,
    Event,
    Evidence,
    Health,
    SeatDef,
    SeatSnapshot,
    encode,
)

HARNESS = Path(__file__).with_name("atheris_decoders.py")
REPO = HARNESS.parents[2]


def seeds() -> list[bytes]:
    b = {"store_id": "store-a", "edge_id": "edge-1", "boot_id": "b1", "seq": 1, "ts": time.time()}
    seat = SeatDef("s0", 1, [(0.1, 0.1), (0.2, 0.1), (0.2, 0.2)], label="A-01")
    msgs = [
        Birth(**b, config_version=1, seats=[seat], states=[SeatSnapshot("s0", "empty", time.time())]),
        Delta(**b, changes=[SeatSnapshot("s0", "occupied", time.time())]),
        Event(**b, seat_id="s0", from_state="empty", to_state="occupied", at=time.time(),
              evidence=Evidence(item_classes=["book"], item_count=1)),
        Health(**b, channels=[ChannelHealth(1, True, fps=5.0, last_error="x")]),
        Death(**b), ConfigAck(**b, version=2, ok=False, error="bad"),
    ]
    # the harness reads: 1 byte kind index, 1 byte "fixed store", the rest payload
    return [bytes([i, 1]) + encode(m) for i, m in enumerate(msgs)]


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris is not installed (pip install atheris)")
def test_atheris_finds_no_crash_in_the_decoders(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, s in enumerate(seeds()):
        (corpus / f"seed{i}").write_bytes(s)
    r = subprocess.run([sys.executable, str(HARNESS), "-runs=60000", "-max_len=4096", str(corpus)],
                       capture_output=True, text=True, timeout=240, cwd=tmp_path,
                       env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    tail = (r.stdout + r.stderr)[-3000:]
    assert r.returncode == 0, tail
    assert "Done 60000 runs" in tail, tail
    assert not list(tmp_path.glob("crash-*")), tail
    print(tail.strip().splitlines()[-1])
