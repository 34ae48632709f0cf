"""The seat-system adapter interface: one module per system, chosen by the ``type`` key of the
store's ``[kiosk.STORE]`` settings. An adapter reads the kiosk's full seat list; a system that
pushes instead (the generic webhook) also has one, for the seat-list import."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from hub.kiosk import generic
from hub.kiosk.gosca import GoScaAdapter
from hub.kiosk.model import KioskError, KioskSnapshot
from hub.kiosk.settings import GenericSettings, GoScaSettings, KioskStoreSettings


class Adapter(Protocol):
    kind: str
    polls: bool  # True: the hub polls it (GoSca); False: it pushes (webhook) and fetch() imports a file

    async def fetch(self) -> KioskSnapshot:
        """The kiosk's full seat list now; KioskError for anything unusable, never another error."""
        ...


class GenericFileAdapter:
    """The generic adapter's import: its ``seat_file`` (JSON or CSV, docs/kiosk.md)."""

    kind = "generic"
    polls = False

    def __init__(self, seat_file: str) -> None:
        self.seat_file = seat_file

    async def fetch(self) -> KioskSnapshot:
        if not self.seat_file:
            raise KioskError("no seat file: set kiosk.STORE.seat_file, or give --file to import-seats")
        try:
            data = await asyncio.to_thread(Path(self.seat_file).read_bytes)
        except OSError as exc:
            raise KioskError(f"cannot read the seat file {self.seat_file}: {exc.strerror or exc}") from None
        return generic.parse_file(self.seat_file, data)


def make_adapter(s: KioskStoreSettings) -> Adapter:
    if isinstance(s, GoScaSettings):
        return GoScaAdapter(s.base_url, s.store_code, s.timeout_s)
    if isinstance(s, GenericSettings):
        return GenericFileAdapter(s.seat_file)
    raise KioskError(f"unknown kiosk type {type(s).__name__}")
