"""Snapshots for drawing ROIs: an admin asks an edge for one current picture of a channel; the
edge answers with a JPEG whose faces it blurred (``edge_agent.vision.face_blur``). Admins only (every
route here is ``ADMIN``), every request and view is audited, nothing is kept past 7 days.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth.guard import ADMIN, principal
from hub.auth.users import audit, client_addr
from hub.db.models import Edge, Snapshot
from hub.stores import queries
from protocol import TopicError, validate_id
from protocol.messages import Frame, FrameRequest

KEEP_S = 7 * 86400  # "kept at most 7 days"
MAX_JPEG = 8 * 1024 * 1024
ANSWER_WITHIN_S = 120.0  # requests are not queued for offline edges: unanswered by then = failed


class SnapshotIn(msgspec.Struct, forbid_unknown_fields=True):
    channel: int


class SnapshotOut(msgspec.Struct):
    id: int
    store_id: str
    edge_id: str
    channel: int
    status: str  # requested | ready | failed
    requested_by: str
    requested_at: float
    received_at: float | None
    faces_blurred: int | None
    error: str | None
    url: str | None  # the JPEG, once ready


def _out(s: Snapshot, now: float | None = None) -> SnapshotOut:
    now = time.time() if now is None else now
    status = "failed" if s.error else ("ready" if s.jpeg else "requested")
    error = s.error
    if status == "requested" and now - s.requested_at > ANSWER_WITHIN_S:
        status, error = "failed", f"the edge did not answer within {ANSWER_WITHIN_S:.0f} s (offline?): ask again"
    url = f"/api/v1/stores/{s.store_id}/snapshots/{s.id}/image" if status == "ready" else None
    return SnapshotOut(s.id, s.store_id, s.edge_id, s.channel, status, s.requested_by, s.requested_at,
                       s.received_at, s.faces_blurred, error, url)


async def purge_old(db: AsyncSession, now: float) -> None:
    await db.execute(delete(Snapshot).where(Snapshot.requested_at < now - KEEP_S))


async def store_frames(sessionmaker: async_sessionmaker[AsyncSession], frames: Sequence[Frame], now: float) -> int:
    """Attach each edge answer to its open request (same store and edge only: an edge cannot
    fill another's request). Returns how many were dropped."""
    dropped = 0
    async with sessionmaker() as db, db.begin():
        await purge_old(db, now)
        for f in frames:
            ok_jpeg = f.jpeg[:2] == b"\xff\xd8" and len(f.jpeg) <= MAX_JPEG
            values = ({"jpeg": f.jpeg, "faces_blurred": f.faces_blurred, "error": None} if f.error is None and ok_jpeg
                      else {"jpeg": None, "faces_blurred": None, "error": f.error or "the edge sent no valid JPEG"})
            res = await db.execute(
                update(Snapshot).where(Snapshot.request_id == f.request_id, Snapshot.store_id == f.store_id,
                                       Snapshot.edge_id == f.edge_id, Snapshot.received_at.is_(None))
                .values(received_at=now, **values))
            dropped += res.rowcount == 0
    return dropped


class SnapshotsApi(Controller):
    path = "/api/v1/stores/{store_id:str}"
    tags = ["snapshots"]
    opt = ADMIN

    @post("/edges/{edge_id:str}/snapshots", status_code=202)
    async def request_snapshot(self, request: Request, state: State, db: NamedDependency[AsyncSession],
                               store_id: FromPath[str], edge_id: FromPath[str], data: JSONBody[SnapshotIn]) -> SnapshotOut:
        """Ask the edge for one current picture of ``channel``, faces blurred (admins). Poll the
        returned snapshot until ``status`` is ready or failed."""
        try:
            validate_id(edge_id, "edge id")
        except TopicError as exc:
            raise ClientException(str(exc)) from None
        await queries.get_store(db, store_id)
        if await db.get(Edge, (store_id, edge_id)) is None:
            raise NotFoundException(f"store {store_id!r} has no edge {edge_id!r}")
        if state.mqtt is None:
            raise HTTPException(status_code=503, detail="MQTT is disabled in this hub: cannot reach the edge")
        now = time.time()
        user = principal(request)
        await purge_old(db, now)
        snap = Snapshot(store_id=store_id, edge_id=edge_id, channel=data.channel, request_id=uuid.uuid4().hex,
                        requested_by=user.username if user else "", requested_at=now)
        db.add(snap)
        await audit(db, "snapshot_request", snap.requested_by, client_addr(request), store_id,
                    f"edge={edge_id} channel={data.channel}")
        await db.commit()
        await state.mqtt.publish(FrameRequest(store_id=store_id, edge_id=edge_id, ts=now, request_id=snap.request_id,
                                              channel=data.channel), "frame_request", retain=False)
        return _out(snap)

    @get("/snapshots")
    async def list_snapshots(self, db: NamedDependency[AsyncSession], store_id: FromPath[str]) -> list[SnapshotOut]:
        """This store's snapshots of the last 7 days, newest first (admins)."""
        now = time.time()
        rows = (await db.execute(
            select(Snapshot).where(Snapshot.store_id == store_id, Snapshot.requested_at >= now - KEEP_S)
            .order_by(Snapshot.requested_at.desc()).limit(200))).scalars().all()
        return [_out(s, now) for s in rows]

    @get("/snapshots/{snapshot_id:int}/image", media_type="image/jpeg")
    async def view_snapshot(self, request: Request, db: NamedDependency[AsyncSession], store_id: FromPath[str],
                            snapshot_id: FromPath[int]) -> Response:
        """The picture (admins); every view is audited."""
        snap = await db.get(Snapshot, snapshot_id)
        if (snap is None or snap.store_id != store_id or snap.jpeg is None
                or snap.requested_at < time.time() - KEEP_S):
            raise NotFoundException(f"no ready snapshot {snapshot_id} in store {store_id!r}")
        user = principal(request)
        await audit(db, "snapshot_view", user.username if user else "", client_addr(request), store_id,
                    f"snapshot={snapshot_id}")
        await db.commit()
        return Response(snap.jpeg, media_type="image/jpeg",
                        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
