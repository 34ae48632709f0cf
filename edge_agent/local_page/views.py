"""The local page's view model (pure): the seat layout joined with the stored states, and the
JSON shapes ``/api/seats`` and ``/api/events`` return. No I/O: tested without a server."""

from __future__ import annotations

import msgspec

from protocol.messages import SeatDef, SeatSnapshot


class SeatView(msgspec.Struct, frozen=True):
    seat_id: str
    label: str
    channel: int
    state: str
    since: float | None
    polygon: list[tuple[float, float]]
    centroid: tuple[float, float]
    resumed: bool = False  # since = when the agent restarted; the time before is unknown


class SeatsPayload(msgspec.Struct, frozen=True):
    generated_at: float
    config_version: int | None
    counts: dict[str, int]
    seats: list[SeatView]


class EventView(msgspec.Struct, frozen=True):
    id: int
    seat_id: str
    from_state: str
    to_state: str
    at: float


def build_view(seats: list[SeatDef], states: list[SeatSnapshot], now: float,
               config_version: int | None = None) -> SeatsPayload:
    """Seats (layout) joined with stored states; a seat without a stored state is 'unknown'."""
    by_id = {s.seat_id: s for s in states}
    views = []
    counts = {k: 0 for k in ("empty", "occupied", "away", "abandoned", "unknown")}
    for seat in seats:
        if not seat.active:
            continue
        snap = by_id.get(seat.seat_id)
        state = snap.state if snap is not None else "unknown"
        counts[state] = counts.get(state, 0) + 1
        pts = [(float(x), float(y)) for x, y in seat.polygon]
        cx = sum(p[0] for p in pts) / len(pts)
        cy = sum(p[1] for p in pts) / len(pts)
        views.append(SeatView(seat.seat_id, seat.label or seat.seat_id, seat.channel, state,
                              snap.since if snap is not None else None, pts, (cx, cy),
                              snap is not None and snap.resumed))
    views.sort(key=lambda v: (v.channel, v.label))
    return SeatsPayload(now, config_version, counts, views)
