"""What the hub keeps of a kiosk seat: typed, and free of anything that identifies a person.

Privacy (docs/security.md): an adapter turns the vendor's answer into :class:`KioskSeat` and
nothing else leaves it. Customer names (GoSca's ``uname``), phone numbers or member ids are read
at most as "is someone holding this seat" and are never stored, logged or shown.
"""

from __future__ import annotations

import msgspec

# free: nobody bought it; sold: a customer holds it but is not checked in (e.g. a fixed seat's
# owner is out); in_use: sold and checked in.
KIOSK_STATES: tuple[str, ...] = ("free", "sold", "in_use")
# fixed: 고정석 (one customer's seat for weeks); prepaid: 충전권 (hours bought ahead); daily: a day
# pass or hourly ticket; "": the kiosk did not say.
PRODUCTS: tuple[str, ...] = ("fixed", "prepaid", "daily", "")
# Wall sides of a floor-plan cell, as bits (1 where the plan draws a wall on that side).
WALL_BITS: dict[str, int] = {"top": 1, "bottom": 2, "left": 4, "right": 8}


class KioskError(Exception):
    """The kiosk could not be read (unreachable, timeout, HTTP error) or its answer is not the
    expected format. The message says which, for the UI and the log."""


class KioskSeat(msgspec.Struct, frozen=True):
    kiosk_seat_id: str  # the vendor's seat key, e.g. GoSca's "{section}-{cell_row}-{cell_col}"
    section: str
    row: int
    col: int
    label: str
    product: str = ""
    state: str = "free"
    remaining_s: int | None = None
    walls: int = 0  # WALL_BITS


class KioskSnapshot(msgspec.Struct, frozen=True):
    """One read of the kiosk: every seat it knows, and the seats it sent that were unusable
    (each with the reason: one bad seat never loses the others)."""

    seats: list[KioskSeat]
    problems: list[str] = []


def wall_names(bits: int) -> list[str]:
    return [name for name, bit in WALL_BITS.items() if bits & bit]
