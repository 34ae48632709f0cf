"""Background alert evaluation (filled in shortly)."""
from __future__ import annotations

from typing import Any


class AlertService:
    def __init__(self, settings: Any, sessionmaker: Any, live: Any) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.live = live

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
