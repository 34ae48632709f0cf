"""`seat-edge status`: what the agent last stored, readable without the agent running."""

from __future__ import annotations

import time
from collections import Counter

from edge_agent.settings import EdgeConfig
from ui.i18n import DURATION_NAMES, Translator, format_duration

_EN = Translator(DURATION_NAMES, "en")


def _age(seconds: float | None) -> str:
    return format_duration(seconds, _EN, unknown="-")


def _hub_line(cfg: EdgeConfig, health, now: float) -> str:
    where = f"{cfg.mqtt.host}:{cfg.mqtt.port}"
    if health is None or health.hub_connected is None:
        return f"hub ({where}): unknown (no report from the agent yet)"
    # The agent writes its report every tick; a much older one means it is not running.
    if now - health.at > max(30.0, 5 * cfg.edge.sample_interval_s):
        return f"hub ({where}): unknown, the agent last reported {_age(now - health.at)} ago (is it running?)"
    if health.hub_connected:
        return f"hub ({where}): connected"
    return f"hub ({where}): NOT connected, messages wait in the outbox (see `seat-edge doctor`)"


def render_status(cfg: EdgeConfig, now: float | None = None) -> str:
    from edge_agent.agent import health_from_store
    from edge_agent.storage.db import EdgeStore

    now = time.time() if now is None else now
    path = cfg.data_path / "edge.sqlite"
    if not path.exists():
        return f"No data yet at {path}: has `seat-edge run` been started with this config?"
    store = EdgeStore(path)
    try:
        states = store.load_states()
        health = health_from_store(store)
        stored = store.get_config()
        lines = [f"store {cfg.edge.store_id} / edge {cfg.edge.edge_id}"]
        version = stored.version if stored and stored.version > cfg.config_version else cfg.config_version
        lines.append(f"config version {version}")
        counts = Counter(s.state for s in states)
        lines.append("seats: " + ", ".join(f"{k} {counts[k]}" for k in
                                            ("occupied", "away", "abandoned", "empty", "unknown")))
        for s in sorted(states, key=lambda s: s.seat_id):
            # a state carried over a restart: its timer started again then (issue 19 point 8)
            before = " (time before the restart unknown)" if s.resumed else ""
            lines.append(f"  {s.seat_id:<10} {s.state:<10} for {_age(now - s.since)}{before}")
        lines.append(f"channels (reported {_age(None if health is None else now - health.at)} ago):")
        drift = {d.channel: d for d in health.drift} if health else {}
        for h in health.channels if health else []:
            err = f"  last error: {h.last_error}" if h.last_error else ""
            lines.append(
                f"  ch{h.channel:<3} {'online ' if h.online else 'OFFLINE'} {h.fps:5.1f} fps  "
                f"frame age {_age(h.last_frame_age_s)}  reconnects {h.reconnects}{err}"
            )
            if (d := drift.get(h.channel)) is not None:
                lines.append(f"        {d.text()}")
        channel_of = {s.seat_id: s.channel for s in cfg.seats}
        for sid, seen in sorted((health.refused if health else {}).items()):
            lines.append(f"  seat {sid}: no empty reference, {', '.join(seen)} seen on it when asked; clear the desk "
                         f"and run seat-edge reference --channel {channel_of.get(sid, 'N')} again")
        for sid, seen in sorted((health.cluttered if health else {}).items()):
            lines.append(f"  seat {sid}: its empty reference holds {', '.join(seen)}; re-take it with the desk cleared")
        lines.append(f"outbox: {store.depth()} waiting for the broker, {store.dropped()} dropped in total")
        lines.append(_hub_line(cfg, health, now))
        return "\n".join(lines)
    finally:
        store.close()
