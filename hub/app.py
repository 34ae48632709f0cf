"""The hub's Litestar app factory.

``app.state`` carries: ``settings`` (HubSettings), ``engine``, ``sessionmaker``, ``live``
(LiveHub: ``await live.publish(store_id, msg)`` with a ``protocol.live`` message reaches that
store's WebSocket clients on every replica), ``metrics`` (HubMetrics), ``writer`` (IngestWriter),
``mqtt`` (MqttClient: connection state and the hub -> edge publisher) and ``ingest``
(IngestConsumer); both None when started with ``start_mqtt=False``.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from litestar import Litestar, MediaType, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException, WebSocketException
from litestar.logging.config import LoggingConfig
from litestar.middleware import DefineMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from hub.alerts.service import AlertService
from hub.auth.guard import PUBLIC, access_guard, not_logged_in
from hub.auth.routes import routes as auth_routes
from hub.auth.users import AuthMiddleware
from hub.db.migrate import upgrade_async
from hub.db.retention import retention_loop
from hub.db.session import make_engine, make_sessionmaker
from hub.ingest.consumer import IngestConsumer
from hub.ingest.writer import IngestWriter
from hub.kiosk.service import KioskMetrics, KioskService
from hub.live.fanout import LiveHub
from hub.mqtt.client import MqttClient, MqttUnavailable
from hub.mqtt.live_relay import MqttLiveRelay
from hub.settings import HubSettings
from hub.stats.api import router as stats_router
from hub.stats.api import shutdown_stats_pool
from hub.stores import queries
from hub.stores.api import StoresApi, healthz, metrics, provide_session
from hub.stores.config_push import LayoutError
from hub.stores.snapshots import SnapshotsApi
from hub.system.api_docs import openapi_config
from hub.system.headers import security_headers
from hub.system.metrics import HubMetrics
from hub.web.history import history_api, history_page
from hub.web.kiosk import handlers as kiosk_handlers
from hub.web.pages import Pages, live_store
from hub.web.roi import handlers as roi_handlers
from hub.web.users import handlers as users_handlers
from hub.web.ws_sessions import WsSessions
from protocol import TopicSpace
from ui.seatmap import template_globals

log = logging.getLogger("hub.app")
UI_DIR = Path(__file__).resolve().parent.parent / "ui"


def _error(status: int):
    def handler(request: Request, exc: Exception) -> Response:
        body: dict = {"status_code": status, "detail": str(exc)}
        if isinstance(exc, LayoutError):
            body["problems"] = exc.problems
        return Response(body, status_code=status, media_type=MediaType.JSON)

    return handler


def _too_deep(request: Request, exc: RecursionError) -> Response:
    """A JSON body nested deeper than the decoder recurses (e.g. 100000 '[') is the client's
    error, not a crash: 400 with what to fix."""
    return Response({"status_code": 400, "detail": "request body is nested too deeply to be a valid document"},
                    status_code=400, media_type=MediaType.JSON)


def create_app(settings: HubSettings, *, start_mqtt: bool = True, migrate: bool = False) -> Litestar:
    """Build the hub. ``migrate=True`` upgrades the schema at start (the CLI migrates before
    serving instead); tests and the demo may use it."""
    engine = make_engine(settings.database.url)
    sessionmaker = make_sessionmaker(engine)
    hub_metrics = HubMetrics()
    writer = IngestWriter(sessionmaker, TopicSpace(settings.mqtt.topic_prefix))
    kiosk_metrics = KioskMetrics(hub_metrics.registry)  # once per app: a registry refuses a second copy
    # Data flow: MQTT client -> ingest consumer -> writer (reducer) -> live fan-out -> WebSockets;
    # the fan-out's transport between replicas is the relay over the same MQTT connection.
    client = MqttClient(settings, hub_metrics) if start_mqtt else None
    relay = MqttLiveRelay(client) if client is not None else None
    live = LiveHub(relay)
    ingest = IngestConsumer(settings, client, writer, live, hub_metrics) if client is not None else None

    @asynccontextmanager
    async def lifespan(app: Litestar):
        if migrate:
            await upgrade_async(engine)
        app.state.mqtt, app.state.ingest = client, ingest
        if client is not None and ingest is not None:
            await client.start()
            await ingest.start()
        kiosk = KioskService(settings, sessionmaker, kiosk_metrics, live=live)  # kiosk pollers (issue 18), off the ingest path
        app.state.kiosk = kiosk
        await kiosk.start()
        alert_service = AlertService(settings, sessionmaker, live, sources=[kiosk])
        await alert_service.start()
        app.state.alerts = alert_service
        # Retention (hub/db/retention.py): batched deletes, each a short transaction, off the
        # ingest path; several replicas may all run it (deleting a row twice is harmless).
        retention = (asyncio.create_task(retention_loop(sessionmaker, settings.retention), name="retention")
                     if settings.retention.interval_s > 0 else None)
        try:
            yield
        finally:
            if retention is not None:
                retention.cancel()
                with suppress(asyncio.CancelledError):
                    await retention
            await alert_service.stop()
            await kiosk.stop()
            if client is not None and ingest is not None and relay is not None:
                if settings.mqtt.release_session_on_stop and client.subscribed.is_set():
                    await client.leave_shared_group(ingest.busy)
                relay.close()  # from now on, updates are delivered locally only
                await ingest.stop()
                await client.stop()
            await asyncio.to_thread(shutdown_stats_pool)  # no worker outlives the hub
            await engine.dispose()

    handlers: list = [healthz, metrics, StoresApi, SnapshotsApi, Pages, live_store, *auth_routes,
                      create_static_files_router(path="/static", directories=[UI_DIR / "static"], opt=PUBLIC),
                      stats_router, history_page, history_api, *roi_handlers, *kiosk_handlers, *users_handlers]

    return Litestar(
        route_handlers=handlers,
        dependencies={"db": Provide(provide_session)},
        # Access control (hub.auth.guard): request.user is set for every request, and one app-wide
        # guard refuses what the route's access class does not allow (deny by default).
        middleware=[DefineMiddleware(AuthMiddleware, exclude=["^/static/"])],
        guards=[access_guard],
        before_send=[security_headers],
        lifespan=[lifespan],
        state=State({
            "settings": settings, "engine": engine, "sessionmaker": sessionmaker, "live": live,
            "metrics": hub_metrics, "writer": writer, "mqtt": None, "ingest": None, "alerts": None, "kiosk": None,
            "ws_sessions": WsSessions(),
        }),
        template_config=TemplateConfig(directory=UI_DIR / "templates", engine=JinjaTemplateEngine,
                                       engine_callback=lambda e: e.engine.globals.update(template_globals())),
        # Unexpected 500s are logged with their traceback in production too, not only in debug mode.
        logging_config=LoggingConfig(
            configure_root_logger=False, log_exceptions="always", disable_stack_trace={400, 401, 403, 404, 409, 429, 503, WebSocketException}),
        openapi_config=openapi_config(),  # docs assets served from the package (hub.system.api_docs)
        exception_handlers={
            queries.NotFound: _error(404),
            LayoutError: _error(400),
            MqttUnavailable: _error(503),
            NotAuthorizedException: not_logged_in,
            RecursionError: _too_deep,
        },
    )
