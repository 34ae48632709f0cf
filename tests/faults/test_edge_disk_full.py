"""The edge's disk really fills up (a 2 MB tmpfs mounted for the test, filled by another file):
outbox writes fail with SQLITE_FULL, the store logs one clear error and keeps the messages in
memory in order, and when space returns they go to disk again, none lost, none twice.
Needs root to mount (the machine's CI runs as root); elsewhere it falls back to SQLite's
max_page_count cap, which tests/integration/test_store.py::test_full_disk_keeps_running_in_memory_then_recovers
already covers, and says so."""

from __future__ import annotations

import logging
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from edge_agent.storage.db import EdgeStore


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()}); the SQLite page-cap variant in "
                    "tests/integration/test_store.py covers the logic")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(mnt: Path) -> Path:
    filler = mnt / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def test_real_full_disk_keeps_the_outbox_in_memory_then_recovers(small_disk, caplog):
    store = EdgeStore(small_disk / "edge.db")
    first = store.enqueue("t", b"before", "event", "A1")
    filler = _fill(small_disk)
    assert os.statvfs(small_disk).f_bavail == 0
    payload = os.urandom(16384)  # incompressible, bigger than any free page
    with caplog.at_level(logging.ERROR, logger="edge_agent.storage.db"):
        ids = [store.enqueue("t", payload + bytes([i]), "event", "A1") for i in range(20)]
    assert store.disk_full
    full = [r for r in caplog.records if "disk is full" in r.getMessage()]
    assert len(full) == 1, [r.getMessage() for r in caplog.records]  # one clear error per episode
    assert store.depth() == 21
    assert [r.id for r in store.pending(100)] == [first, *ids]  # in order, none lost
    # Space returns: acked rows leave memory, new rows go to the disk again.
    filler.unlink()
    for i in ids:
        assert store.remove(i)
    after = store.enqueue("t", b"after", "event", "A1")
    assert not store.disk_full
    assert [r.payload for r in store.pending(100)] == [b"before", b"after"]
    store.close()
    reopened = EdgeStore(small_disk / "edge.db")
    assert [r.payload for r in reopened.pending(100)] == [b"before", b"after"]  # on disk for real
    reopened.close()
    assert after > ids[-1]
