"""The GoSca poller against a fake GoSca over real HTTP (hub.kiosk.fake_gosca), with a real
(SQLite) database: polling, an outage (unknown, then recovery), a slow kiosk, garbage answers, a
seat list that changes (mappings kept), and customer names that never reach the database."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.db.migrate import upgrade_async
from hub.db.models import KioskEvent, KioskSeatRow, KioskStatus, Seat
from hub.db.session import make_engine, make_sessionmaker
from hub.kiosk import health as H
from hub.kiosk import store as kstore
from hub.kiosk.fake_gosca import FAKE_NAMES, FakeGoSca, chair
from hub.kiosk.service import KioskService
from hub.kiosk.settings import GoScaSettings
from hub.settings import HubSettings

ROOM = [
    chair("A", 1, 1, in_use=True, name=FAKE_NAMES[0], product="고정석 4주", remain="10:00", walls="tl"),
    chair("A", 1, 2, name=FAKE_NAMES[1], remain="01:00"),
    chair("A", 1, 3),
    chair("B", 2, 1, in_use=True, name=FAKE_NAMES[5], product="충전권", remain="3시간 10분", walls="r"),
]


@pytest.fixture
def fake():
    f = FakeGoSca(store_code="Anding-Oryudongyeok-sca", seats=ROOM).start()
    yield f
    f.stop()


def settings_for(fake: FakeGoSca, db_path: Path, timeout_s: float = 1.0) -> HubSettings:
    from hub.settings import DatabaseSettings

    return HubSettings(database=DatabaseSettings(url=f"sqlite+aiosqlite:///{db_path}"), kiosk={
        "oryudong": GoScaSettings(base_url=fake.url, store_code="Anding-Oryudongyeok-sca", interval_s=1.0,
                                  timeout_s=timeout_s, max_backoff_s=4.0)})


async def _seats(sm) -> dict[str, KioskSeatRow]:
    async with sm() as db:
        return {r.kiosk_seat_id: r for r in (await db.scalars(select(KioskSeatRow))).all()}


async def _health(sm) -> KioskStatus:
    async with sm() as db:
        return (await db.scalars(select(KioskStatus))).one()


def db_bytes(db_path: Path) -> bytes:
    """Every byte the database keeps, its journal files included."""
    return b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))


def test_polls_outage_slowness_garbage_changes_and_no_names(fake, tmp_path):
    db_path = tmp_path / "hub.sqlite"
    settings = settings_for(fake, db_path)

    async def main() -> None:
        engine = make_engine(settings.database.url)
        await upgrade_async(engine)
        sm = make_sessionmaker(engine)
        svc = KioskService(settings, sm)
        try:
            # 1. a good read: every seat with state, product, remaining time and walls
            assert await svc.poll_once("oryudong") == 0
            seats = await _seats(sm)
            assert sorted(seats) == ["A-1-1", "A-1-2", "A-1-3", "B-2-1"]
            a11 = seats["A-1-1"]
            assert (a11.state, a11.product, a11.remaining_s, a11.walls, a11.section, a11.row, a11.col) == (
                "in_use", "fixed", 36000, 5, "A", 1, 1)
            assert seats["A-1-2"].state == "sold" and seats["A-1-3"].state == "free"
            h = await _health(sm)
            assert h.ok and h.failures == 0 and h.unknown_since is None and h.seats == 4

            # map a camera seat, so the re-import below must keep it
            async with sm() as db:
                db.add(Seat(store_id="oryudong", seat_id="a01", edge_id="e1", channel=1, label="A-01",
                            type="desk", polygon=[[0, 0], [1, 0], [1, 1]], active=True))
                await db.flush()
                await kstore.set_mapping(db, "oryudong", "a01", "A-1-1", time.time())
                await db.commit()

            # 2. outage: unknown since the first failure, the last known states kept
            fake.mode = "down"
            t_down = time.time()
            assert await svc.poll_once("oryudong") == 1
            assert await svc.poll_once("oryudong") == 2
            h = await _health(sm)
            assert not h.ok and h.failures == 2 and "HTTP 503" in h.last_error
            assert t_down <= h.unknown_since <= h.last_attempt_at
            async with sm() as db:
                assert H.unknown_since(await kstore.read_health(db, "oryudong"), time.time(), 4) == h.unknown_since
            assert (await _seats(sm))["A-1-1"].state == "in_use"

            # 3. slow: the read is cut at timeout_s, not waited for
            fake.mode, fake.slow_s = "slow", 5.0
            t0 = time.monotonic()
            assert await svc.poll_once("oryudong") == 3
            assert time.monotonic() - t0 < 2.5
            assert "did not answer within 1 s" in (await _health(sm)).last_error

            # 4. garbage and JSON of another shape: failures that say what was wrong
            fake.mode = "garbage"
            await svc.poll_once("oryudong")
            assert "not JSON" in (await _health(sm)).last_error
            fake.mode = "wrongjson"
            await svc.poll_once("oryudong")
            assert "no 'components' list" in (await _health(sm)).last_error
            unknown_since = (await _health(sm)).unknown_since
            assert unknown_since <= t_down + 1  # still the first failure's time

            # 5. recovery
            fake.mode = "ok"
            assert await svc.poll_once("oryudong") == 0
            h = await _health(sm)
            assert h.ok and h.unknown_since is None and h.last_error is None

            # 6. the seat list changes: A-1-3 gone, C-1-1 new, A-1-1 checked out; the mapping stays
            fake.set_seats([chair("A", 1, 1, remain=""), ROOM[1], ROOM[3], chair("C", 1, 1, walls="b")])
            await svc.poll_once("oryudong")
            seats = await _seats(sm)
            assert not seats["A-1-3"].present and seats["C-1-1"].present and seats["C-1-1"].walls == 2
            assert seats["A-1-1"].camera_seat_id == "a01" and seats["A-1-1"].state == "free"
            assert seats["A-1-1"].checked_out_at is not None
            fake.set_seats(ROOM)
            rep = await svc.import_seats("oryudong")
            assert (rep.added, rep.removed, rep.back, rep.kept_mappings) == ([], ["C-1-1"], ["A-1-3"], 1)
            assert (await _seats(sm))["A-1-1"].camera_seat_id == "a01"
            async with sm() as db:
                changes = [(e.kiosk_seat_id, e.state) for e in (await db.scalars(
                    select(KioskEvent).order_by(KioskEvent.id))).all() if e.kiosk_seat_id == "A-1-1"]
            assert changes == [("A-1-1", "in_use"), ("A-1-1", "free"), ("A-1-1", "in_use")]
        finally:
            await engine.dispose()

    asyncio.run(main())
    # Names (and the remaining-time text around them) never reach the database: grep its bytes.
    raw = db_bytes(db_path)
    assert b"A-1-1" in raw  # the grep does see the kiosk data
    for name in FAKE_NAMES:
        assert name.encode() not in raw, name


def test_the_poller_backs_off_while_down_and_never_blocks_the_loop(fake, tmp_path):
    """The running poller (own task): while the kiosk hangs, other coroutines keep running on the
    loop, the failures back off, and it recovers by itself."""
    settings = settings_for(fake, tmp_path / "hub.sqlite", timeout_s=0.5)
    fake.mode, fake.slow_s = "slow", 3.0

    async def main() -> None:
        engine = make_engine(settings.database.url)
        await upgrade_async(engine)
        sm = make_sessionmaker(engine)
        svc = KioskService(settings, sm)
        await svc.start()
        try:
            ticks = 0
            t0 = time.monotonic()
            while time.monotonic() - t0 < 4.0:
                await asyncio.sleep(0.01)
                ticks += 1
            assert ticks > 200  # the loop was never held up by the hanging kiosk
            h = await _health(sm)
            # Each read hangs 0.5 s (the timeout). Attempt 1 fails at 0.5 s, waits 1-2 s; attempt 2
            # fails by 3.0 s, then waits 2-4 s, so attempt 3 cannot fail before 4.5 s. A poller
            # without backoff (every 1 s) would have failed three times by now.
            assert not h.ok and h.failures == 2
            fake.mode = "ok"
            for _ in range(100):
                await asyncio.sleep(0.1)
                if (await _health(sm)).ok:
                    break
            assert (await _health(sm)).ok
        finally:
            await svc.stop()
            await engine.dispose()

    asyncio.run(main())
