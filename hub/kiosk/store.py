"""Database side of the kiosk link: import a seat list (keeping mappings), apply states, record
health, map camera seats, place seats by hand. Each function works in the caller's session; the
caller commits. Only :class:`hub.kiosk.model.KioskSeat` fields are ever written (no names).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import KioskEvent, KioskNonce, KioskSeatRow, KioskStatus, Seat, Store
from hub.kiosk.health import Health
from hub.kiosk.model import KioskSeat, KioskSnapshot


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # gone from the kiosk; their mapping is kept
    back: list[str] = field(default_factory=list)  # listed again after being gone
    changed_state: int = 0
    kept_mappings: int = 0
    problems: list[str] = field(default_factory=list)
    changed: list[KioskSeat] = field(default_factory=list)  # state or remaining time changed (live push)


def _set_state(row: KioskSeatRow, seat: KioskSeat, now: float, events: list[KioskEvent],
               changed: list[KioskSeat] | None = None) -> bool:
    if changed is not None and (row.state != seat.state or row.remaining_s != seat.remaining_s):
        changed.append(seat)
    row.remaining_s = seat.remaining_s
    if row.state == seat.state:
        return False
    if row.state == "in_use":
        row.checked_out_at = now
    elif seat.state == "in_use":
        row.checked_out_at = None
    row.state = seat.state
    row.state_since = now
    events.append(KioskEvent(store_id=row.store_id, kiosk_seat_id=row.kiosk_seat_id, state=seat.state, at=now))
    return True


async def ensure_store(db: AsyncSession, store_id: str, now: float) -> None:
    if await db.get(Store, store_id) is None:
        db.add(Store(id=store_id, name="", created_at=now))
        await db.flush()


async def apply_snapshot(db: AsyncSession, store_id: str, snap: KioskSnapshot, now: float) -> ImportReport:
    """The kiosk's full seat list: new seats added, known ones updated (layout and state, the
    mapping untouched), missing ones marked gone (kept, with their mapping, in case they return)."""
    rep = ImportReport(problems=list(snap.problems))
    rows = {r.kiosk_seat_id: r for r in (await db.scalars(
        select(KioskSeatRow).where(KioskSeatRow.store_id == store_id, KioskSeatRow.source == "kiosk"))).all()}
    events: list[KioskEvent] = []
    listed = set()
    for s in snap.seats:
        listed.add(s.kiosk_seat_id)
        row = rows.get(s.kiosk_seat_id)
        if row is None:
            row = KioskSeatRow(store_id=store_id, kiosk_seat_id=s.kiosk_seat_id, source="kiosk", present=True,
                               camera_seat_id=None, state=None, state_since=None, checked_out_at=None,
                               updated_at=now)
            db.add(row)
            rep.added.append(s.kiosk_seat_id)
        elif not row.present:
            row.present = True
            rep.back.append(s.kiosk_seat_id)
        row.section, row.row, row.col, row.label = s.section, s.row, s.col, s.label
        row.product, row.walls, row.updated_at = s.product, s.walls, now
        rep.changed_state += _set_state(row, s, now, events, rep.changed)
        if row.camera_seat_id:
            rep.kept_mappings += 1
    for sid, row in rows.items():
        if sid not in listed and row.present:
            row.present = False
            row.updated_at = now
            rep.removed.append(sid)
    db.add_all(events)
    rep.added.sort()
    rep.removed.sort()
    return rep


async def apply_states(db: AsyncSession, store_id: str, snap: KioskSnapshot, now: float) -> ImportReport:
    """States only (the webhook): seats the hub does not know are reported, not created."""
    rep = ImportReport(problems=list(snap.problems))
    ids = [s.kiosk_seat_id for s in snap.seats]
    rows = {r.kiosk_seat_id: r for r in (await db.scalars(
        select(KioskSeatRow).where(KioskSeatRow.store_id == store_id, KioskSeatRow.source == "kiosk",
                                   KioskSeatRow.kiosk_seat_id.in_(ids)))).all()} if ids else {}
    events: list[KioskEvent] = []
    for s in snap.seats:
        row = rows.get(s.kiosk_seat_id)
        if row is None:
            rep.problems.append(f"seat {s.kiosk_seat_id}: not in the imported seat list (import the seats first)")
            continue
        row.updated_at = now
        rep.changed_state += _set_state(row, s, now, events, rep.changed)
    db.add_all(events)
    return rep


async def read_health(db: AsyncSession, store_id: str) -> Health | None:
    r = await db.get(KioskStatus, store_id)
    if r is None:
        return None
    return Health(r.adapter, r.ok, r.unknown_since, r.last_ok_at, r.last_attempt_at, r.last_error, r.failures,
                  r.latency_ms, r.seats)


async def write_health(db: AsyncSession, store_id: str, h: Health) -> None:
    row = await db.get(KioskStatus, store_id)
    if row is None:
        row = KioskStatus(store_id=store_id)
        db.add(row)
    row.adapter, row.ok, row.unknown_since, row.last_ok_at = h.adapter, h.ok, h.unknown_since, h.last_ok_at
    row.last_attempt_at, row.last_error, row.failures = h.last_attempt_at, h.last_error, h.failures
    row.latency_ms, row.seats = h.latency_ms, h.seats


async def remember_signature(db: AsyncSession, store_id: str, digest: str, now: float, keep_s: float) -> bool:
    """False if this signature was used before (a replay). Old ones are forgotten after ``keep_s``
    (the timestamp check refuses those anyway)."""
    await db.execute(delete(KioskNonce).where(KioskNonce.at < now - keep_s))
    if await db.get(KioskNonce, (store_id, digest)) is not None:
        return False
    db.add(KioskNonce(store_id=store_id, digest=digest, at=now))
    await db.flush()  # a concurrent replay loses on the primary key
    return True


class MappingError(ValueError):
    pass


async def set_mapping(db: AsyncSession, store_id: str, camera_seat_id: str, kiosk_seat_id: str | None,
                      now: float) -> None:
    """Map a camera seat to a floor-plan seat (None: unmap). A camera seat has one floor-plan
    seat at most: mapping it elsewhere moves it."""
    if await db.get(Seat, (store_id, camera_seat_id)) is None:
        raise MappingError(f"camera seat {camera_seat_id!r} is not a seat of store {store_id!r}")
    for r in (await db.scalars(select(KioskSeatRow).where(
            KioskSeatRow.store_id == store_id, KioskSeatRow.camera_seat_id == camera_seat_id))).all():
        r.camera_seat_id = None
        r.updated_at = now
    await db.flush()
    if kiosk_seat_id:
        row = await db.get(KioskSeatRow, (store_id, kiosk_seat_id))
        if row is None:
            raise MappingError(f"floor-plan seat {kiosk_seat_id!r} is not in store {store_id!r}")
        row.camera_seat_id = camera_seat_id
        row.updated_at = now
    await db.flush()


async def place_manual(db: AsyncSession, store_id: str, camera_seat_id: str, section: str, row: int, col: int,
                       now: float) -> str:
    """A floor-plan seat placed by hand for a camera seat (stores without a kiosk)."""
    section = section.strip()[:40] or "A"
    if not (0 <= row < 1000 and 0 <= col < 1000):
        raise MappingError("row and column must be 0..999")
    seat = await db.get(Seat, (store_id, camera_seat_id))
    if seat is None:
        raise MappingError(f"camera seat {camera_seat_id!r} is not a seat of store {store_id!r}")
    kid = f"M-{section}-{row}-{col}"
    existing = await db.get(KioskSeatRow, (store_id, kid))
    if existing is not None and existing.camera_seat_id not in (None, camera_seat_id):
        raise MappingError(f"cell {section} {row},{col} already holds seat {existing.camera_seat_id}")
    # The camera seat's earlier hand-placed cell goes away; a kiosk seat mapping is released.
    for r in (await db.scalars(select(KioskSeatRow).where(
            KioskSeatRow.store_id == store_id, KioskSeatRow.camera_seat_id == camera_seat_id))).all():
        if r.source == "manual" and r.kiosk_seat_id != kid:
            await db.delete(r)
        else:
            r.camera_seat_id = None
    await db.flush()
    if existing is None:
        db.add(KioskSeatRow(store_id=store_id, kiosk_seat_id=kid, source="manual", section=section, row=row,
                            col=col, label=seat.label or camera_seat_id, product="", walls=0,
                            camera_seat_id=camera_seat_id, present=True, state=None, state_since=None,
                            remaining_s=None, checked_out_at=None, updated_at=now))
    else:
        existing.camera_seat_id = camera_seat_id
    await db.flush()
    return kid


async def floor_rows(db: AsyncSession, store_id: str) -> list[KioskSeatRow]:
    return list((await db.scalars(select(KioskSeatRow).where(
        KioskSeatRow.store_id == store_id, KioskSeatRow.present.is_(True)).order_by(
        KioskSeatRow.section, KioskSeatRow.row, KioskSeatRow.col))).all())
