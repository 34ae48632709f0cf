"""The kiosk part of ``seat-hub demo``: a fake GoSca (real HTTP, hub.kiosk.fake_gosca) for the
demo store, polled every 5 s, with thresholds of one minute so a new user sees the floor plan
and a reconciliation alert within two minutes; once the demo edge's camera seats arrive they are
mapped to kiosk seats (hub.kiosk.fake_gosca.DEMO_MAPPING) unless someone mapped them already."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy import select

from hub.db.models import KioskSeatRow, Seat
from hub.kiosk import store as kstore
from hub.kiosk.fake_gosca import DEMO_MAPPING, FakeGoSca
from hub.kiosk.settings import GoScaSettings, KioskRules

log = logging.getLogger(__name__)
DEMO_RULES = KioskRules(hogging_min=1.0, unpaid_min=1.0, checkout_items_min=1.0)


class DemoKiosk:
    def __init__(self, store: str) -> None:
        self.store = store
        self.fake: FakeGoSca | None = None
        self._task: asyncio.Task[None] | None = None

    def settings(self) -> dict[str, GoScaSettings]:
        """Starts the fake GoSca; the demo store's ``[kiosk.STORE]`` settings."""
        self.fake = FakeGoSca(store_code=f"{self.store}-sca").start()
        return {self.store: GoScaSettings(base_url=self.fake.url, store_code=f"{self.store}-sca", interval_s=5.0,
                                          timeout_s=3.0, max_backoff_s=30.0, rules=DEMO_RULES)}

    def follow(self, app: Any) -> None:
        """Map the camera seats once they exist (a background task of the demo's loop)."""
        assert self.fake is not None
        print(f"Kiosk (fake GoSca, real HTTP): {self.fake.url}/gosca/seatlist?pstore={self.store}-sca; floor plan "
              f"and seat link: /stores/{self.store}/kiosk. Reconciliation alerts follow within two minutes.",
              flush=True)
        self._task = asyncio.create_task(self._map_when_ready(app), name="demo-kiosk-mapping")

    async def _map_when_ready(self, app: Any, timeout_s: float = 300.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                async with app.state.sessionmaker() as db:
                    cams = set((await db.scalars(select(Seat.seat_id).where(Seat.store_id == self.store))).all())
                    rows = {r.kiosk_seat_id: r for r in (await db.scalars(
                        select(KioskSeatRow).where(KioskSeatRow.store_id == self.store))).all()}
                    if cams >= set(DEMO_MAPPING) and set(DEMO_MAPPING.values()) <= set(rows):
                        if not any(r.camera_seat_id for r in rows.values()):  # keep a user's own mapping
                            for cam, kid in DEMO_MAPPING.items():
                                await kstore.set_mapping(db, self.store, cam, kid, time.time())
                            await db.commit()
                        return
            except Exception:  # the demo goes on without the mapping; say why in the log
                log.exception("demo kiosk mapping")
                return
            await asyncio.sleep(1.0)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.fake is not None:
            self.fake.stop()
