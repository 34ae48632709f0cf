"""JSON API (``/api/v1``), ``/healthz`` and ``/metrics``. Handlers only translate HTTP <-> queries."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, get, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, HTTPException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.guard import PUBLIC, principal, visible
from hub.auth.users import audit, client_addr
from hub.params import parse_optional_time
from hub.stores import queries
from hub.stores.config_push import ConfigIn, ConfigStatus, StaleConfig, config_status, store_new_config
from hub.system.csv_cells import safe_row
from protocol import SEAT_STATES, TopicError, validate_id


async def provide_session(state: State) -> AsyncIterator[AsyncSession]:
    async with state.sessionmaker() as session:
        yield session


def iso_store(ts: float, zone: ZoneInfo) -> str:
    """ISO 8601 in store time (the store's zone, with its offset: +09:00 in Seoul); empty for a
    time that is no date."""
    try:
        return datetime.fromtimestamp(ts, zone).isoformat()
    except (OverflowError, ValueError, OSError):
        return ""


def iso_utc(ts: float) -> str:
    """ISO 8601 UTC of epoch seconds; empty for a time that is no date (inf, NaN, 1e300 stored
    before the ingest guard) so one bad row never breaks an export mid-stream."""
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat()
    except (OverflowError, ValueError, OSError):
        return ""


def _check_state(value: str | None) -> str | None:
    if value is not None and value not in SEAT_STATES:
        raise ClientException(f"type must be one of {', '.join(SEAT_STATES)} (got {value!r})")
    return value


class Health(msgspec.Struct):
    status: str
    db: str
    mqtt: str


@get("/healthz", opt=PUBLIC)
async def healthz(state: State) -> Response[Health]:
    db = "ok"
    try:
        async with state.sessionmaker() as s:
            await s.execute(text("SELECT 1"))
    except Exception as exc:  # report, never crash the probe
        db = f"error: {exc.__class__.__name__}"
    ingest = state.mqtt
    mqtt = "disabled" if ingest is None else ("connected" if ingest.connected.is_set() else "disconnected")
    ok = db == "ok" and mqtt != "disconnected"
    return Response(Health("ok" if ok else "degraded", db, mqtt), status_code=200 if ok else 503)


@get("/metrics", media_type="text/plain; version=0.0.4", opt=PUBLIC)  # counters only, no store data
async def metrics(state: State) -> bytes:
    return state.metrics.render()


class StoresApi(Controller):
    path = "/api/v1/stores"
    tags = ["stores"]

    @get("/")
    async def stores(self, request: Request, db: NamedDependency[AsyncSession]) -> list[queries.StoreSummary]:
        """The stores this user may see, with seat counts per state and edges online/offline."""
        return visible(principal(request), await queries.list_stores(db))

    @get("/{store_id:str}")
    async def store(self, state: State, db: NamedDependency[AsyncSession], store_id: FromPath[str]) -> queries.StoreDetail:
        """One store: edges (online, last seen, channel health), seat counts per state, and the
        time zone its pages, statistics and exports use."""
        return await queries.store_detail(db, store_id, state.settings.timezone)

    @get("/{store_id:str}/seats")
    async def seats(self, db: NamedDependency[AsyncSession], store_id: FromPath[str]) -> list[queries.SeatOut]:
        """Current state of every active seat, since when, and vacancy duration for empty seats."""
        return await queries.list_seats(db, store_id)

    @get("/{store_id:str}/events")
    async def events(
        self, state: State, db: NamedDependency[AsyncSession], store_id: FromPath[str],
        seat: FromQuery[str | None] = None,
        to_state: Annotated[str | None, QueryParameter(name="type", description="filter by the state entered")] = None,
        t_from: Annotated[str | None, QueryParameter(name="from", description="epoch s or ISO 8601 (no offset: store time), inclusive")] = None,
        t_to: Annotated[str | None, QueryParameter(name="to", description="epoch s or ISO 8601 (no offset: store time), exclusive")] = None,
        cursor: Annotated[str | None, QueryParameter(description="the 'next' value of the previous page")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> queries.EventPage:
        """Seat transitions, newest first, with an opaque cursor for the next page."""
        zone = await queries.zone_of(db, store_id, state.settings.timezone)
        try:
            return await queries.list_events(
                db, store_id, seat=seat, to_state=_check_state(to_state),
                t_from=parse_optional_time(t_from, "from", zone), t_to=parse_optional_time(t_to, "to", zone),
                cursor=cursor, limit=limit,
            )
        except queries.BadCursor as exc:
            raise ClientException(str(exc)) from None

    @get("/{store_id:str}/events.csv", media_type="text/csv")
    async def events_csv(
        self, state: State, db: NamedDependency[AsyncSession], store_id: FromPath[str],
        seat: FromQuery[str | None] = None,
        to_state: Annotated[str | None, QueryParameter(name="type")] = None,
        t_from: Annotated[str | None, QueryParameter(name="from")] = None,
        t_to: Annotated[str | None, QueryParameter(name="to")] = None,
    ) -> Stream:
        """CSV export of the same events (oldest first), any size, streamed."""
        await queries.get_store(db, store_id)  # 404 before the stream starts
        zone = await queries.zone_of(db, store_id, state.settings.timezone)
        args: dict[str, Any] = dict(seat=seat, to_state=_check_state(to_state),
                                    t_from=parse_optional_time(t_from, "from", zone),
                                    t_to=parse_optional_time(t_to, "to", zone))

        async def rows() -> AsyncIterator[str]:
            buf = io.StringIO()
            w = csv.writer(buf)
            # at_iso is UTC (+00:00); at_store is the same moment in the store's zone (+09:00 in
            # Seoul), as the pages and stats.csv show it: each value carries its offset, so no reader
            # has to guess; the zone's name is in the file name's neighbour, the store API.
            w.writerow(["id", "store_id", "seat_id", "edge_id", "from_state", "to_state", "at_iso", "at_epoch",
                        "historical", "at_store", "store_tz"])
            async with state.sessionmaker() as s:
                async for e in queries.iter_events(s, store_id, **args):
                    w.writerow(safe_row([e.id, store_id, e.seat_id, e.edge_id, e.from_state, e.to_state,
                                         iso_utc(e.at), f"{e.at:.3f}", int(e.historical), iso_store(e.at, zone), zone.key]))
                    if buf.tell() > 32_000:
                        yield buf.getvalue()
                        buf.seek(0)
                        buf.truncate()
            yield buf.getvalue()

        return Stream(rows(), media_type="text/csv",
                      headers={"Content-Disposition": f'attachment; filename="{store_id}-events.csv"'})

    @get("/{store_id:str}/edges/{edge_id:str}/config")
    async def get_config(self, db: NamedDependency[AsyncSession], store_id: FromPath[str], edge_id: FromPath[str]) -> ConfigStatus:
        """Desired config version, what the edge applied, and its ack or validation error."""
        await queries.get_store(db, store_id)
        return await config_status(db, store_id, edge_id)

    @put("/{store_id:str}/edges/{edge_id:str}/config")
    async def put_config(self, request: Request, state: State, db: NamedDependency[AsyncSession],
                         store_id: FromPath[str], edge_id: FromPath[str], data: JSONBody[ConfigIn]) -> ConfigStatus:
        """Push a new seat layout to an edge (admins): validated, stored as the next version,
        published retained (QoS 1) on the edge's config topic; status ``pending`` until the edge's
        ack makes it ``applied`` or ``failed``. ``base_version`` must be the current ``version``
        (from GET): a save that started from an older one is refused with 409."""
        try:
            validate_id(edge_id, "edge id")
        except TopicError as exc:
            raise ClientException(str(exc)) from None
        await queries.get_store(db, store_id)
        if state.mqtt is None:
            raise HTTPException(status_code=503, detail="MQTT is disabled in this hub: cannot push a config")
        try:
            msg = await store_new_config(db, store_id, edge_id, data, time.time())
            user = principal(request)
            await audit(db, "config_push", user.username if user else "", client_addr(request), store_id,
                        f"edge={edge_id} version={msg.version} seats={len(msg.seats)}")
            await db.commit()
        except StaleConfig as exc:
            raise HTTPException(status_code=409, detail=str(exc), extra={"current_version": exc.current}) from None
        except IntegrityError:
            raise HTTPException(status_code=409, detail="another config was pushed at the same time; retry") from None
        await state.mqtt.publish(msg, "config", retain=True)
        return await config_status(db, store_id, edge_id)
