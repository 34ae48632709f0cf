"""Which threshold each model class gets (``vision.detector.build_class_map``): persons ``conf``,
belongings ``item_conf`` (lower: flat books and bags score low), ``class_conf`` over both."""

from __future__ import annotations

import pytest

from edge_agent.settings import ModelSection, model_problems
from edge_agent.vision.backends.tfjs import COCO80
from edge_agent.vision.detector import build_class_map

NAMES = dict(enumerate(COCO80))


def conf_of(cmap, name: str) -> float:
    return next(c for n, _, c in cmap.classes.values() if n == name)


def test_items_take_item_conf_persons_take_conf_class_conf_wins():
    cmap = build_class_map(NAMES, ModelSection(conf=0.3, class_conf={"cell phone": 0.5}))
    assert conf_of(cmap, "person") == 0.3
    assert conf_of(cmap, "book") == conf_of(cmap, "laptop") == 0.15  # the default item_conf
    assert conf_of(cmap, "cell phone") == 0.5
    assert cmap.min_conf == 0.15  # the backend filters at the lowest, the front per class
    plain = build_class_map(NAMES, ModelSection(conf=0.3, item_conf=None))
    assert conf_of(plain, "book") == 0.3


def test_a_person_class_listed_as_item_stays_a_person_with_conf():
    cmap = build_class_map(NAMES, ModelSection(conf=0.4, item_classes=["person", "book"]))
    assert [(n, k, c) for n, k, c in cmap.classes.values() if n == "person"] == [("person", "person", 0.4)]


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_item_conf_out_of_range_is_a_config_problem(bad):
    assert any("item_conf must be within 0..1" in p for p in model_problems(ModelSection(item_conf=bad)))


def test_doctor_knows_the_offline_models_by_name(monkeypatch, tmp_path):
    # `seat-edge doctor` on a box set up with an offline model: not "a name downloaded on first
    # run" (nothing downloads it), but installed or not by scripts/setup.sh.
    from edge_agent.commands.doctor import check_model

    monkeypatch.setenv("SEAT_EDGE_MODELS", str(tmp_path))
    missing = check_model("yolov5s-coco", "tfjs")
    assert missing.level == "fail" and "scripts/setup.sh" in missing.fix
    (tmp_path / "yolov5s-tfjs").mkdir()
    (tmp_path / "yolov5s-tfjs" / "model.json").write_text("{}")
    ok = check_model("yolov5s-coco", "tfjs")
    assert ok.level == "ok" and str(tmp_path) in ok.detail
    assert check_model("ssd-mobilenet-v2-coco", "tflite").level == "fail"
    assert check_model("yolo11s.pt").level == "warn"  # an ultralytics name: downloaded on first run
