"""The shared detector on real photos with the real offline person model (CPU).

There is no GPU on the test machines: device selection is tested against a fake ``torch.cuda``
(the only mocked part); inference runs for real on CPU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import pytest

from edge_agent.settings import DEFAULT_ITEM_CLASSES, ModelSection
from edge_agent.types import Frame
from edge_agent.vision.detector import (
    Detector,
    DetectorError,
    build_class_map,
    choose_device,
    describe_device,
    offline_person_model,
)

PERSON_CFG = {"person_classes": ["Normal", "Fall"], "item_classes": [], "conf": 0.3, "imgsz": 640}


@pytest.fixture(scope="module")
def person_detector(person_model_path):
    return Detector(ModelSection(weights=str(person_model_path), **PERSON_CFG))


@pytest.fixture(scope="module")
def photos(ultralytics_assets):
    imgs = {n: cv2.imread(str(ultralytics_assets / f"{n}.jpg")) for n in ("bus", "zidane")}
    assert all(i is not None for i in imgs.values())
    return imgs


def frame(img, channel=1, t=1000.0):
    return Frame(channel=channel, image=img, captured_at=t)


# ------------------------------------------------------------------------ real inference
def test_finds_persons_on_real_photos(person_detector, photos):
    out = person_detector.detect([frame(photos["bus"], 3, 11.0), frame(photos["zidane"], 4, 12.0)])
    assert [(o.channel, o.captured_at) for o in out] == [(3, 11.0), (4, 12.0)]
    bus, zidane = out
    assert len(bus.detections) >= 3 and len(zidane.detections) >= 2
    for fd in out:
        assert fd.latency_ms > 0
        for d in fd.detections:
            assert d.kind == "person" and d.class_name in ("Normal", "Fall") and d.conf >= 0.3
            x1, y1, x2, y2 = d.box
            assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1
    # zidane.jpg: two standing men, left one centred around x=0.3, right one around x=0.8.
    centres = sorted((d.box[0] + d.box[2]) / 2 for d in zidane.detections)
    assert centres[0] < 0.5 < centres[-1]


@dataclass
class PredictSpy:
    """Counts calls to the real model's predict (no behaviour changed)."""

    model: object
    batches: list[int] = field(default_factory=list)

    def __getattr__(self, name):
        return getattr(self.model, name)

    def predict(self, images, **kw):
        self.batches.append(len(images))
        return self.model.predict(images, **kw)


def test_batch_equals_single_results(person_detector, person_model_path, photos):
    spy = PredictSpy(person_detector.model)
    det = Detector(ModelSection(weights=str(person_model_path), max_batch=2, **PERSON_CFG), model=spy)
    bus, zidane = photos["bus"], photos["zidane"]
    imgs = [bus, zidane, bus[:, ::-1].copy(), bus[::-1].copy(), zidane[:, ::-1].copy()]
    batched = det.detect([frame(i, channel=n) for n, i in enumerate(imgs)])
    # Same-size frames share a predict call (at most max_batch each): bus-sized 2+1, zidane-sized 2.
    assert sorted(spy.batches) == [1, 2, 2]
    assert [b.channel for b in batched] == [0, 1, 2, 3, 4]
    for n, img in enumerate(imgs):
        single = person_detector.detect([frame(img)])[0].detections
        got = batched[n].detections
        assert len(got) == len(single), f"frame {n}"
        for a, b in zip(sorted(got, key=lambda d: d.box), sorted(single, key=lambda d: d.box)):
            assert a.box == pytest.approx(b.box, abs=0.02) and a.conf == pytest.approx(b.conf, abs=0.05)


def test_per_class_thresholds_filter(person_detector, person_model_path, photos):
    base = person_detector.detect([frame(photos["bus"])])[0].detections
    confs = sorted(d.conf for d in base)
    threshold = (confs[0] + confs[-1]) / 2  # between the weakest and the strongest box
    strict = (
        Detector(
            ModelSection(weights=str(person_model_path), class_conf={"normal": threshold}, **PERSON_CFG),
            model=person_detector.model,
        )
        .detect([frame(photos["bus"])])[0]
        .detections
    )
    expected = [d for d in base if d.class_name != "Normal" or d.conf >= threshold]
    assert 0 < len(strict) < len(base)
    assert sorted(d.conf for d in strict) == pytest.approx(sorted(d.conf for d in expected), abs=1e-5)
    assert all(d.conf >= threshold for d in strict)


def test_coco_names_path_maps_persons_and_items(photos):
    # Random weights from the YAML (no download here): exercises the COCO class mapping and
    # the real inference path; what it "sees" is noise, so only the mapping is checked.
    # A model built from YAML has placeholder names '0'..'79'; give it COCO's, as training would.
    from ultralytics import YOLO
    from ultralytics.utils import ROOT, YAML

    model = YOLO("yolo11n.yaml")
    model.model.names = YAML.load(ROOT / "cfg" / "datasets" / "coco.yaml")["names"]
    cfg = ModelSection(weights="yolo11n.yaml", conf=1e-6, class_conf={"laptop": 2e-6}, imgsz=320)
    det = Detector(cfg, model=model)
    names = det.model.names
    cmap = det.class_map.classes
    assert cmap[0] == ("person", "person", 1e-6)
    laptop = next(i for i, n in names.items() if n == "laptop")
    assert cmap[laptop] == ("laptop", "item", 2e-6)
    assert {n for n, k, _ in cmap.values() if k == "item"} == set(DEFAULT_ITEM_CLASSES)
    out = det.detect([frame(photos["bus"])])
    assert out[0].detections, "random weights at conf 1e-6 should still produce boxes"
    kept = {n: k for n, k, _ in cmap.values()}
    for d in out[0].detections:
        assert kept[d.class_name] == d.kind  # only configured classes come out, with their kind


# ------------------------------------------------------------------------ misconfiguration
def test_missing_person_classes_is_a_clear_error(person_detector, person_model_path):
    cfg = ModelSection(weights=str(person_model_path), person_classes=["person"])
    with pytest.raises(DetectorError, match=r"person_classes \['person'\].*'Normal', 'Fall'"):
        Detector(cfg, model=person_detector.model)


def test_untrained_yaml_model_names_the_problem():
    with pytest.raises(DetectorError, match="only numbered classes"):
        Detector(ModelSection(weights="yolo11n.yaml"))  # the real loading path, built from YAML


def test_unknown_class_conf_and_missing_items(person_detector, caplog):
    names = dict(person_detector.model.names)
    with pytest.raises(DetectorError, match="class_conf names 'bakpack'.*'Normal'"):
        build_class_map(names, ModelSection(person_classes=["Normal"], class_conf={"bakpack": 0.5}))
    with pytest.raises(DetectorError, match="not within 0..1"):
        build_class_map(names, ModelSection(person_classes=["Normal"], class_conf={"Normal": 1.5}))
    with caplog.at_level(logging.WARNING):
        cmap = build_class_map(names, ModelSection(person_classes=["Normal", "Fall"]))  # default COCO items
    assert set(cmap.classes) == {0, 1} and "backpack" in caplog.text


def test_bad_weights_give_clear_errors(tmp_path):
    missing = tmp_path / "models" / "store.pt"
    with pytest.raises(DetectorError, match=f"not found: {missing}"):
        Detector(ModelSection(weights=str(missing)))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a torch file")
    with pytest.raises(DetectorError, match=f"cannot load model weights {junk}"):
        Detector(ModelSection(weights=str(junk)))
    txt = tmp_path / "notes.txt"
    txt.write_text("x")
    with pytest.raises(DetectorError, match="unsupported format .txt"):
        Detector(ModelSection(weights=str(txt)))
    with pytest.raises(DetectorError, match="'nothere.pt' is not a local file"):
        Detector(ModelSection(weights="nothere.pt"))
    with pytest.raises(DetectorError, match="max_batch"):
        Detector(ModelSection(max_batch=0))


def test_offline_person_model_is_found(person_model_path):
    assert offline_person_model() == person_model_path


# --------------------------------------------------------------- device selection (fake GPU)
class FakeCuda:
    """Stands in for torch.cuda: no GPU on the test machines."""

    def __init__(
        self, available=True, cap=(6, 1), arch=("sm_50", "sm_60", "sm_70"), name="GeForce GTX 1060 6GB"
    ):
        self.available, self.cap, self.arch, self.name = available, cap, list(arch), name

    def is_available(self):
        return self.available

    def get_device_capability(self, i=0):
        return self.cap

    def get_device_name(self, i=0):
        return self.name

    def get_arch_list(self):
        return self.arch


def test_device_no_cuda_is_cpu():
    c = choose_device("auto", "auto", FakeCuda(available=False))
    assert (c.device, c.half, c.warning) == ("cpu", False, None)
    with pytest.raises(DetectorError, match="CUDA is not available"):
        choose_device("cuda", "auto", FakeCuda(available=False))


def test_device_pascal_missing_from_torch_build_falls_back_with_advice():
    cuda = FakeCuda(cap=(6, 1), arch=["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"])
    c = choose_device("auto", "auto", cuda)
    assert c.device == "cpu" and not c.half
    assert (
        "sm_61" in c.warning
        and "GTX 1060" in c.warning
        and "ONNX" in c.warning
        and "install" in c.warning.lower()
    )
    with pytest.raises(DetectorError, match="sm_61"):
        choose_device("cuda:0", "auto", cuda)


def test_device_arch_present_uses_cuda_and_half_where_it_helps():
    ampere = choose_device(
        "auto", "auto", FakeCuda(cap=(8, 6), arch=["sm_80", "sm_86", "sm_90"], name="RTX 3060")
    )
    assert (ampere.device, ampere.half, ampere.warning) == ("cuda:0", True, None)
    # sm_61 runs sm_60 cubins; FP16 is 1/64 rate on GTX 10xx, so "auto" keeps FP32 there.
    pascal = choose_device("auto", "auto", FakeCuda(cap=(6, 1), arch=["sm_50", "sm_60", "sm_70"]))
    assert (pascal.device, pascal.half) == ("cuda:0", False)
    assert choose_device("cuda:0", "on", FakeCuda(cap=(6, 1), arch=["sm_61"])).half is True
    ptx = choose_device("auto", "off", FakeCuda(cap=(9, 0), arch=["sm_80", "compute_80"]))
    assert (ptx.device, ptx.half) == ("cuda:0", False)


def test_device_cpu_and_bad_values():
    assert choose_device("cpu", "on", FakeCuda()).device == "cpu"
    with pytest.raises(DetectorError, match="model.device"):
        choose_device("tpu", "auto", FakeCuda())
    with pytest.raises(DetectorError, match="model.half"):
        choose_device("auto", "maybe", FakeCuda())


def test_describe_device_on_this_machine():
    text = describe_device(ModelSection())
    assert text.startswith("torch ") and "detector device:" in text
