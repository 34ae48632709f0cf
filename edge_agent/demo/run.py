"""`seat-edge demo`: one agent per demo store, all fed by the scripted sample camera and sharing
one person model (one model instance serves every channel, as on a real box), ticked in turn by
one loop.

Each agent is the real ``EdgeAgent`` (its own SQLite, outbox and MQTT session); the demo only
asks it once, at start, to take the empty reference of the channels whose first picture shows
empty desks, through the same request `seat-edge reference --channel N` leaves.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger("seat_edge.demo")


def demo_store_ids(store: str, stores: int) -> list[str]:
    return [store] + [f"{store}-{i}" for i in range(2, stores + 1)]


def run_demo_stores(store: str, stores: int, workdir: Path, mqtt_host: str, mqtt_port: int, topic_prefix: str,
                    local_port: int, rtsp: bool, for_s: float | None) -> None:
    from edge_agent.agent import EdgeAgent
    from edge_agent.demo.layout import REFERENCE_CHANNELS
    from edge_agent.demo.sample_camera import DEMO_PASSWORD, ScriptedCamera, demo_config
    from edge_agent.vision.detector import Detector

    stop = threading.Event()
    camera = None
    agents: list[EdgeAgent] = []

    def on_sigterm(*_) -> None:
        if not agents:  # still loading: unwind (the camera's RTSP servers stop in ``finally``)
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        camera = ScriptedCamera(workdir, stores, prefer_rtsp=rtsp)
        ids = demo_store_ids(store, stores)
        configs = [demo_config(sid, workdir, mqtt_host, mqtt_port, topic_prefix, camera.urls[i], local_port,
                               data_dir="edge-data" if i == 0 else f"edge-data-{sid}", local_page=i == 0)
                   for i, sid in enumerate(ids)]
        print(f"staff fallback page: http://127.0.0.1:{local_port}/ (password: {DEMO_PASSWORD})",
              file=sys.stderr, flush=True)
        detector = Detector(configs[0].model)  # one model for every store's channels
        for cfg in configs:
            agent = EdgeAgent(cfg, detector=detector)
            for ch in REFERENCE_CHANNELS:  # what `seat-edge reference --channel N` asks for
                agent.store.meta_set("reference_request", str(ch))
            agents.append(agent)
            agent.start()
        camera.start()  # the script's clock starts now: the agents see its first pictures first
        for sid, cfg in zip(ids, configs):
            print(f"demo edge: store {sid}, sample camera over {camera.kind}: "
                  + ", ".join(c.url for c in cfg.channels), file=sys.stderr, flush=True)
        interval = configs[0].edge.sample_interval_s
        end = None if for_s is None else time.monotonic() + for_s
        while not stop.is_set() and (end is None or time.monotonic() < end):
            started = time.monotonic()
            for agent in agents:
                agent.tick()
            stop.wait(max(0.0, interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        pass
    finally:
        # The loop has ended, so no agent ticks any more: the cameras can go first (they are the
        # children a parent's death must not leave behind), then the agents stop side by side
        # (each may wait seconds for its broker's last ack; one after the other took too long).
        if camera is not None:
            camera.stop()
        stoppers = [threading.Thread(target=_stop_agent, args=(a,), name=f"stop-{a.cfg.edge.store_id}")
                    for a in agents]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join(30)


def _stop_agent(agent) -> None:
    try:
        agent.stop()
    except Exception:  # stop the others all the same
        log.exception("stopping the demo agent of %s", agent.cfg.edge.store_id)
