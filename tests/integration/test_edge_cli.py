"""The `seat-edge` commands a store installer uses: replay, snapshot, run + status, install.

Real person model on the CPU, real library CCTV frames, real Mosquitto.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import cv2
import numpy as np
from typer.testing import CliRunner

from edge_agent.cli import app
from edge_agent.demo.layout import DEMO_PICTURES, OFFLINE_PERSON_CLASSES

runner = CliRunner()
STUDENT, LEFT = DEMO_PICTURES[1]  # a student at seat a01 / the same desk after the student left


def edge_toml(tmp_path: Path, weights: Path, url: str, broker=None, extra: str = "") -> Path:
    mqtt = f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\ntopic_prefix = "{broker.prefix}"\n' if broker else ""
    p = tmp_path / "edge.toml"
    p.write_text(f"""
[edge]
store_id = "clitest"
data_dir = "{tmp_path / 'data'}"
sample_interval_s = 0.5
{mqtt}
[model]
weights = "{weights}"
person_classes = {json.dumps(OFFLINE_PERSON_CLASSES)}
item_classes = []
conf = 0.4
[state]
enter_s = 4.0
exit_s = 6.0
abandoned_after_s = 12.0
[local_ui]
enabled = false
[[channels]]
id = 1
url = "{url}"
[[seats]]
seat_id = "a01"
channel = 1
label = "A-01"
polygon = [[0.22, 0.33], [0.43, 0.33], [0.43, 0.60], [0.22, 0.60]]
[[seats]]
seat_id = "a02"
channel = 1
label = "A-02"
polygon = [[0.22, 0.68], [0.45, 0.68], [0.45, 0.92], [0.22, 0.92]]
{extra}
""")
    return p


def sequence(folder: Path, pictures: list[Path]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(pictures):
        shutil.copy(p, folder / f"{i:03d}.jpg")
    return folder


def test_replay_prints_one_json_line_per_sample_and_accuracy(tmp_path, person_model_path):
    # 6 samples of the student, 8 after they left, 4 back: interval 2 s of simulated time.
    # The student's things stay on the desk in picture B, but the offline model sees persons only
    # and the seat never stood empty long enough for a reference: it reads "empty", not "away".
    # What this test pins down is the timing in simulated time and the accuracy report.
    seq = sequence(tmp_path / "seq", [STUDENT] * 6 + [LEFT] * 8 + [STUDENT] * 4)
    labels = tmp_path / "labels.csv"
    labels.write_text("t,seat_id,state\n" + "".join(
        f"{t},a01,{s}\n" for t, s in [(6, "occupied"), (10, "occupied"), (22, "empty"), (26, "empty"), (34, "occupied")]
    ) + "10,a02,empty\n26,a02,empty\n")
    cfg = edge_toml(tmp_path, person_model_path, str(seq))
    result = runner.invoke(app, ["replay", "--config", str(cfg), "--channel", "1", "--source", str(seq),
                                 "--interval", "2", "--labels", str(labels)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["t"] for x in lines] == [2.0 * i for i in range(18)]
    a01 = [x["seats"]["a01"] for x in lines]
    # Timers in simulated time: occupied after enter_s (4 s), empty 6 s after the student left at t=12.
    assert a01[:2] == ["unknown", "unknown"] and a01[2] == "occupied"
    assert a01[8] == "occupied" and a01[9] == "empty"  # t=16 still in exit hysteresis, t=18 empty
    assert a01[-1] == "occupied"
    assert {x["seats"]["a02"] for x in lines[2:]} == {"empty"}
    assert "100.0%" in result.stderr  # every labelled sample right
    assert "a01" in result.stderr and "samples" in result.stderr


def test_replay_bad_inputs_are_clear(tmp_path, person_model_path):
    cfg = edge_toml(tmp_path, person_model_path, str(tmp_path))
    r = runner.invoke(app, ["replay", "--config", str(cfg), "--channel", "1", "--source", str(tmp_path / "nope.mp4")])
    assert r.exit_code == 2 and "does not exist" in r.stderr
    r = runner.invoke(app, ["replay", "--config", str(cfg), "--channel", "7", "--source", str(tmp_path)])
    assert r.exit_code == 2 and "channel 7" in r.stderr


def test_replay_reads_video_files(tmp_path, person_model_path):
    video = tmp_path / "clip.avi"
    img = cv2.imread(str(STUDENT))
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (640, 360))
    for _ in range(25):  # 5 s at 5 fps
        w.write(cv2.resize(img, (640, 360)))
    w.release()
    cfg = edge_toml(tmp_path, person_model_path, str(video))
    r = runner.invoke(app, ["replay", "--config", str(cfg), "--channel", "1", "--source", str(video), "--interval", "1"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == 5 and lines[-1]["seats"]["a01"] == "occupied"


def test_snapshot_draws_seats_and_detections(tmp_path, person_model_path):
    seq = sequence(tmp_path / "cam", [STUDENT])
    cfg = edge_toml(tmp_path, person_model_path, str(seq))
    out = tmp_path / "snap.png"
    r = runner.invoke(app, ["snapshot", "--config", str(cfg), "--channel", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "2 seats" in r.stdout and "1 persons" in r.stdout
    drawn, original = cv2.imread(str(out)), cv2.imread(str(STUDENT))
    assert drawn.shape == original.shape
    assert float(np.abs(drawn.astype(int) - original.astype(int)).mean()) > 1.0  # something was drawn


def test_config_errors_are_specific(tmp_path):
    bad = tmp_path / "edge.toml"
    bad.write_text('[edge]\nstore_id = "Bad Id"\n')
    r = runner.invoke(app, ["status", "--config", str(bad)])
    assert r.exit_code == 2 and "invalid store id" in r.stderr
    bad.write_text('[edge\nstore_id = "x"')
    r = runner.invoke(app, ["status", "--config", str(bad)])
    assert r.exit_code == 2 and "not valid TOML" in r.stderr
    r = runner.invoke(app, ["status", "--config", str(tmp_path / "missing.toml")])
    assert r.exit_code == 2 and "not found" in r.stderr


def test_run_then_status_shows_states_and_channel_health(tmp_path, person_model_path, broker):
    seq = sequence(tmp_path / "cam", [STUDENT])
    cfg = edge_toml(tmp_path, person_model_path, str(seq), broker)
    r = runner.invoke(app, ["run", "--config", str(cfg), "--for", "8"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["status", "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    assert "a01" in r.stdout and "occupied" in r.stdout
    assert "ch1" in r.stdout and "online" in r.stdout
    assert "outbox: 0 waiting" in r.stdout
    assert f"hub ({broker.host}:{broker.port}): connected" in r.stdout


def test_install_writes_a_usable_config(tmp_path, person_model_path):
    # The full installer tests (dry run, rerun, bundle, unit, doctor) are in tests/integration/test_install.py.
    root = tmp_path / "root"
    r = runner.invoke(app, ["install", "--store", "oryudong", "--root", str(root), "--model", str(person_model_path),
                            "--password", "correct horse", "--lan-ip", "10.1.2.3", "--no-probe"])
    assert r.exit_code == 0, r.output
    cfg_file = root / "etc" / "seat-edge" / "edge.toml"
    data = tomllib.loads(cfg_file.read_text())
    assert data["edge"]["store_id"] == "oryudong" and data["local_ui"]["listen"] == "10.1.2.3"
    assert data["local_ui"]["password_hash"].startswith("$argon2")
    assert oct(cfg_file.stat().st_mode & 0o777) == "0o640"
    r = runner.invoke(app, ["status", "--config", str(cfg_file)])
    assert r.exit_code == 0 and "No data yet" in r.stdout
    bad = runner.invoke(app, ["install", "--store", "Oryu Dong", "--root", str(tmp_path / "x"),
                              "--password", "correct horse"])
    assert bad.exit_code == 2 and "invalid store id" in bad.stderr
