"""How a seat reads its evidence: the ``[seat_rules]`` section of ``edge.toml`` as a plain
Struct that the pure seat code (assign, reference, state machine, engine) takes as a value.

It lives here, not in ``settings``, so the seat stage imports nothing of the configuration
loader (issue 16): ``settings`` re-exports it as ``SeatsSection`` for the TOML file. The seat
*layout* check is ``protocol.layout.check_layout`` (the same on hub and edge).
"""

from __future__ import annotations

import msgspec


class SeatRules(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    person_overlap_min: float = 0.25  # fraction of the person box's lower part inside the seat
    person_lower_fraction: float = 0.6  # use the lower part of the box (torso/lap over the desk)
    item_overlap_min: float = 0.5  # fraction of an item box inside the seat
    change_threshold: float = 0.12  # reference-image change score that counts as "items"
    # An item box over a desk that looks as its empty reference is the detector's mistake (a
    # table read as an umbrella)... unless it is this sure: then the reference was taken with the
    # thing on the desk (an install in a room where no desk is ever clear), and the box counts.
    item_over_reference: float = 0.5
    use_reference: bool = True
    # The desk zone of a seat drawn without one (SeatDef.desk): the seat polygon cut to this band
    # of its bounding box, [top, bottom] as fractions of its height (0 = top). The default, the
    # upper half, fits a camera mounted high behind the students: chairs below, desk above.
    desk_band: list[float] = msgspec.field(default_factory=lambda: [0.0, 0.5])
    # The empty reference never learns while anything may be on the desk. It is taken on command
    # (`seat-edge reference`) or at the store's quiet time, "HH:MM" in the store's zone ([edge]
    # timezone, not the box's; None: never automatically), from seats that are empty with nothing seen for a minute.
    reference_quiet_time: str | None = None
    # Opt-in: a seat with no reference at all takes one after this long "empty" (0 = never). A
    # book lying there at start would be learned as part of the empty desk; prefer the command.
    reference_after_s: float = 0.0
    # A seated person who sits still can drop out of detection for minutes. While the seat crop
    # stays this close (change score) to how it looked with the person seen, the person counts
    # as present; 0 turns this off. Capped at still_person_max_s since the last real detection.
    still_person_threshold: float = 0.08
    still_person_max_s: float = 1800.0
    # The camera moved: how far (fraction of the frame width) the picture may drift from the one
    # the references were taken on before `seat-edge status` says "redraw or re-take". The desk
    # comparison registers each patch within a search window of about this size, so desks stay
    # readable up to it.
    drift_tolerance: float = 0.02


def quiet_time_s(text: str | None) -> float | None:
    """ "HH:MM" -> seconds after local midnight (ValueError with a clear message)."""
    if text is None:
        return None
    hh, sep, mm = text.strip().partition(":")
    if not sep or not hh.isdigit() or not mm.isdigit() or not (0 <= int(hh) < 24 and 0 <= int(mm) < 60):
        raise ValueError(f"reference_quiet_time must be \"HH:MM\" (24 h local time, e.g. \"04:30\"), got {text!r}")
    return int(hh) * 3600.0 + int(mm) * 60.0


def seat_rules_problems(r: SeatRules) -> list[str]:
    out = []
    band = r.desk_band
    if len(band) != 2 or not (0.0 <= band[0] < band[1] <= 1.0):
        out.append(f"desk_band must be [top, bottom] with 0 <= top < bottom <= 1, got {list(band)}")
    try:
        quiet_time_s(r.reference_quiet_time)
    except ValueError as exc:
        out.append(str(exc))
    if r.reference_after_s < 0:
        out.append("reference_after_s must be >= 0 (0 = never automatically)")
    if not 0.0 < r.drift_tolerance <= 0.1:
        out.append(f"drift_tolerance must be within 0..0.1 of the frame width, got {r.drift_tolerance}")
    if not 0.0 <= r.item_over_reference <= 1.0:
        out.append(f"item_over_reference must be within 0..1 (a detection score), got {r.item_over_reference}")
    return out
