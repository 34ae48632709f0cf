"""`seat-hub store import-seats` as a user runs it (a subprocess), against the fake GoSca over real
HTTP and with a CSV file: what it reports, re-imports, and the errors that say what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.kiosk.fake_gosca import FAKE_NAMES, FakeGoSca, chair

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "hub.cli.main", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def fake():
    f = FakeGoSca(store_code="oryu-sca", seats=[chair("A", 1, 1, in_use=True, name=FAKE_NAMES[0]),
                                                 chair("A", 1, 2)]).start()
    yield f
    f.stop()


def test_import_seats_from_gosca_then_a_changed_list_then_errors(fake, tmp_path):
    cfg = tmp_path / "hub.toml"
    cfg.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/hub.sqlite"\n'
                   f'[kiosk.oryudong]\ntype = "gosca"\nbase_url = "{fake.url}"\nstore_code = "oryu-sca"\n')
    r = run("store", "import-seats", "oryudong", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "oryudong: 2 added, 0 removed" in r.stdout and "A-1-1, A-1-2" in r.stdout
    assert "/stores/oryudong/kiosk" in r.stdout  # says what to do next
    fake.set_seats([chair("A", 1, 1), chair("A", 1, 3)])
    r = run("store", "import-seats", "oryudong", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0 and "1 added, 1 removed" in r.stdout and "A-1-2" in r.stdout, r.stdout

    fake.mode = "down"
    r = run("store", "import-seats", "oryudong", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 1 and "GoSca answered HTTP 503" in r.stderr

    r = run("store", "import-seats", "gangnam", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 2 and "[kiosk.gangnam]" in r.stderr and "--file" in r.stderr

    csv = tmp_path / "seats.csv"
    csv.write_text("id,section,row,col,state\nG-1,A,1,1,free\nG-2,A,1,2,bogus\n", encoding="utf-8")
    r = run("store", "import-seats", "gangnam", "--file", str(csv), "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0 and "1 added" in r.stdout and "state 'bogus'" in r.stderr, (r.stdout, r.stderr)
    assert FAKE_NAMES[0].encode() not in (tmp_path / "hub.sqlite").read_bytes()
