"""Reconciliation: what the kiosk sold against what the camera sees, per mapped seat. Pure.

Kinds (each an ordinary alert: :mod:`hub.alerts` de-duplicates, stores and delivers it):

- ``kiosk_hogging`` (high): sold and checked in, but the camera has seen the seat empty (no-show)
  or with only belongings (away / abandoned: 자리 맡기) for ``hogging_min`` since the later of the
  two states' starts.
- ``kiosk_unpaid`` (high): occupied on camera for ``unpaid_min`` while the kiosk says free
  (무단 이용). A ``sold`` seat (the holder is not checked in, e.g. a fixed seat) is not unpaid.
- ``kiosk_checkout_items`` (low): checked out at the kiosk, yet belongings are still on the desk
  ``checkout_items_min`` later (forgotten items, or a seat kept after check-out). Only belongings
  that were there by the end of that grace count; a new guest's bag later is not this.

Never raised while the store's kiosk state is unknown (down, stale) or the camera cannot see the
seat: no observation is not an observation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hub.alerts.rules import DesiredAlert, _fmt_duration
from hub.kiosk.settings import KioskRules

KINDS: tuple[str, ...] = ("kiosk_hogging", "kiosk_unpaid", "kiosk_checkout_items")
NOT_SITTING = frozenset({"empty", "away", "abandoned"})
BELONGINGS = frozenset({"away", "abandoned"})


@dataclass(frozen=True)
class PairNow:
    """One camera seat mapped to one kiosk seat, now."""

    store_id: str
    camera_seat_id: str
    label: str
    camera_state: str  # empty | occupied | away | abandoned | unknown
    camera_since: float
    kiosk_state: str | None  # free | sold | in_use; None: no kiosk state (a seat placed by hand)
    kiosk_since: float | None  # when the kiosk state began (as first seen by the hub)
    checked_out_at: float | None = None  # the last in_use -> not in_use change
    edge_id: str | None = None


def reconcile(pairs: Iterable[PairNow], kiosk_known: bool, now: float, rules: KioskRules) -> list[DesiredAlert]:
    """The reconciliation alerts whose condition holds at ``now`` (at most one per seat)."""
    if not kiosk_known:
        return []
    out: list[DesiredAlert] = []
    hog_s, unpaid_s, items_s = rules.hogging_min * 60, rules.unpaid_min * 60, rules.checkout_items_min * 60
    for p in pairs:
        if p.kiosk_state is None or p.camera_state not in ("empty", "occupied", "away", "abandoned"):
            continue
        kiosk_since = p.kiosk_since if p.kiosk_since is not None else p.camera_since
        start = max(p.camera_since, kiosk_since)
        name = p.label or p.camera_seat_id
        if p.kiosk_state == "in_use" and p.camera_state in NOT_SITTING and now - start >= hog_s:
            what = "입실 후 자리에 없음" if p.camera_state == "empty" else "짐만 두고 자리 비움"
            out.append(DesiredAlert("kiosk_hogging", "high", p.store_id,
                                    f"좌석 {name}: 이용 중(결제됨)인데 {what} {_fmt_duration(now - start)}",
                                    start, seat_id=p.camera_seat_id, edge_id=p.edge_id))
        elif p.kiosk_state == "free" and p.camera_state == "occupied" and now - start >= unpaid_s:
            out.append(DesiredAlert("kiosk_unpaid", "high", p.store_id,
                                    f"좌석 {name}: 결제 없이 사용 중 {_fmt_duration(now - start)}",
                                    start, seat_id=p.camera_seat_id, edge_id=p.edge_id))
        elif (p.kiosk_state != "in_use" and p.checked_out_at is not None and p.camera_state in BELONGINGS
              and p.camera_since <= p.checked_out_at + items_s and now - p.checked_out_at >= items_s):
            out.append(DesiredAlert("kiosk_checkout_items", "low", p.store_id,
                                    f"좌석 {name}: 퇴실했는데 짐이 남아 있음 {_fmt_duration(now - p.checked_out_at)}",
                                    p.checked_out_at, seat_id=p.camera_seat_id, edge_id=p.edge_id))
    return out
