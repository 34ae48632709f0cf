"""The store staff's fallback page, served by the edge box on its LAN address.

It reads seat states and events ONLY from the SQLite store (plus the in-process seat layout
when the agent passes one), so it keeps working with the hub and the internet unplugged.
Standard library ``ThreadingHTTPServer`` in a background thread + Jinja2: no web framework on
the box.

Routes: ``/`` seat map (SVG per channel, coloured by state, "since" durations) and list,
rendered fully on the server (auto-refresh by a small script polling ``/api/seats``; without
JS a <noscript> meta refresh); ``/api/seats``; ``/api/events?limit=N``; ``/healthz`` (open);
``/login``, ``/logout``; ``/static/edge/*`` and ``/static/shared/*`` (the seat map shared with the hub,
``ui/templates/shared/seat_map.html``). Korean by default, ``?lang=en`` switches (and
sets a cookie).

Auth: one local password (argon2 hash ``local_ui.password_hash``, set by ``seat-edge install``).
A login form sets a signed session cookie (``sessions.py``). Cookie: HttpOnly, SameSite=Strict,
12 h. A form + cookie rather than HTTP Basic: a proper logout, a Korean error message, and no
password sent with every poll. Wrong password: one generic message, 401, and a per-address
throttle after repeated failures. No password configured: nothing but /healthz is served.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import msgspec
from jinja2 import Environment, FileSystemLoader, select_autoescape

from edge_agent.local_page.passwords import PasswordHashError, verify_password
from edge_agent.local_page.sessions import (
    REVOKED_META_KEY,
    SECRET_META_KEY,
    SESSION_COOKIE,
    SESSION_TTL_S,
    LoginThrottle,
    check_session,
    prune_revoked,
    safe_next,
    sign_session,
    token_body,
    token_expiry,
)
from edge_agent.local_page.views import EventView, SeatsPayload, build_view
from edge_agent.settings import LocalUiSection
from edge_agent.storage.db import EdgeStore
from protocol.messages import SeatDef
from ui import seatmap
from ui.i18n import Translator, format_duration, pick_lang
from ui.seatmap import template_globals
from ui.messages_edge import MESSAGES

log = logging.getLogger(__name__)

UI_DIR = Path(__file__).resolve().parents[2] / "ui"
STATIC_DIR = UI_DIR / "static" / "edge"
SHARED_STATIC_DIR = UI_DIR / "static" / "shared"
MAX_EVENTS = 1000
MAX_FORM_BYTES = 4096
REQUEST_TIMEOUT_S = 10.0
_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".svg": "image/svg+xml"}


# ---- server ----------------------------------------------------------------------------------
def store_clock(ts: float, zone: ZoneInfo, fmt: str = "%H:%M:%S %Z") -> str:
    """'22:33:05 KST': store time with the zone's name, the same moment the hub shows; with
    ``fmt="%Y-%m-%d %H:%M:%S %Z"`` the date too, written as everywhere: YYYY-MM-DD."""
    try:
        return datetime.fromtimestamp(ts, zone).strftime(fmt)
    except (OverflowError, ValueError, OSError):
        return ""


class LocalPage:
    def __init__(self, ui: LocalUiSection, store: EdgeStore,
                 seats_provider: Callable[[], list[SeatDef]] | None = None, *,
                 store_label: str = "", refresh_s: float = 5.0, clock: Callable[[], float] = time.time,
                 request_timeout_s: float = REQUEST_TIMEOUT_S, timezone: str = "Asia/Seoul") -> None:
        self.ui = ui
        self.zone = ZoneInfo(timezone)  # the store's zone ([edge] timezone), not the box's
        self.store = store
        self.seats_provider = seats_provider
        self.store_label = store_label
        self.refresh_s = refresh_s
        self.clock = clock
        self.request_timeout_s = request_timeout_s
        self.env = Environment(loader=FileSystemLoader(str(UI_DIR / "templates")),
                               autoescape=select_autoescape(["html"]), auto_reload=False)
        self.env.globals.update(template_globals())
        self._throttle = LoginThrottle(clock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._secret = self._load_secret()
        self._revoked_lock = threading.Lock()
        self._revoked = self._load_revoked()

    def _load_secret(self) -> bytes:
        raw = self.store.meta_get(SECRET_META_KEY)
        if not raw:
            raw = secrets.token_hex(32)
            if not self.store.meta_set(SECRET_META_KEY, raw):
                log.warning("could not save the page's session secret (disk full?): sessions end at restart")
        return bytes.fromhex(raw)

    # lifecycle
    def start(self) -> None:
        if self.ui.listen in ("0.0.0.0", "::"):
            log.warning("local page listens on all interfaces (%s): set local_ui.listen to the LAN address",
                        self.ui.listen)
        if not self.ui.password_hash:
            log.error("local page: no local_ui.password_hash set; only /healthz is served "
                      "(set a password with `seat-edge install`)")
        page = self

        class Handler(_Handler):
            pass

        Handler.page = page
        Handler.timeout = self.request_timeout_s
        self._server = ThreadingHTTPServer((self.ui.listen, self.ui.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-page", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        if self._server is None:
            return f"http://{self.ui.listen}:{self.ui.port}/"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    # data
    def seats_payload(self) -> SeatsPayload:
        stored = self.store.get_config()
        seats = self.seats_provider() if self.seats_provider is not None else (stored.seats if stored else [])
        return build_view(list(seats), self.store.load_states(), self.clock(), stored.version if stored else None)

    # login throttle
    def throttled_for(self, addr: str) -> int:
        return self._throttle.throttled_for(addr)

    def record_failure(self, addr: str) -> None:
        self._throttle.record_failure(addr)

    def session_ok(self, token: str | None) -> bool:
        h = self.ui.password_hash
        if not (h and check_session(self._secret, h, token, self.clock())):
            return False
        with self._revoked_lock:
            return token_body(token) not in self._revoked

    def revoke(self, token: str | None) -> None:
        """Logout: this token is refused from now on, also after a restart (the list is kept in
        the store's meta next to the secret, pruned of tokens that expired anyway)."""
        body = token_body(token)
        if body is None or not self.session_ok(token):
            return  # only a valid session can be revoked: a stranger cannot grow the list
        with self._revoked_lock:
            self._revoked = prune_revoked(self._revoked, self.clock())
            self._revoked[body] = token_expiry(body)
            saved = self.store.meta_set(REVOKED_META_KEY, json.dumps(self._revoked))
        if not saved:
            log.warning("local page: could not save a logout (disk full?): it holds until the agent restarts")

    def _load_revoked(self) -> dict[str, float]:
        raw = self.store.meta_get(REVOKED_META_KEY)
        try:
            data = json.loads(raw) if raw else {}
            return prune_revoked({str(k): float(v) for k, v in data.items()}, self.clock())
        except (ValueError, AttributeError, TypeError):
            log.warning("local page: the saved logout list is unreadable; starting a new one")
            return {}

    def new_session(self) -> str:
        return sign_session(self._secret, self.ui.password_hash or "", self.clock())


class _Handler(BaseHTTPRequestHandler):
    page: LocalPage
    # A socket timeout per request: a client that sends less than it announced, or nothing at
    # all, releases its thread after this long instead of holding it until it disconnects.
    timeout = REQUEST_TIMEOUT_S
    server_version = "seat-edge"
    sys_version = ""

    def log_message(self, format: str, *args) -> None:
        log.debug("local page %s: " + format, self.client_address[0], *args)

    # helpers
    def _cookies(self) -> SimpleCookie:
        c = SimpleCookie()
        try:
            c.load(self.headers.get("Cookie", ""))
        except CookieError:
            pass  # a garbled cookie header is treated as no cookies
        return c

    def _cookie(self, name: str) -> str | None:
        m = self._cookies().get(name)
        return m.value if m else None

    def _lang(self, query: dict[str, list[str]]) -> tuple[str, bool]:
        q = (query.get("lang") or [None])[0]
        lang = pick_lang(q, self._cookie("lang"))
        return lang, q == lang

    def _send(self, status: int, body: bytes, ctype: str, headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'")
        for k, v in headers or []:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj) -> None:
        self._send(status, msgspec.json.encode(obj), "application/json")

    def _render(self, status: int, template: str, lang: str, set_lang: bool,
                headers: list[tuple[str, str]] | None = None, **ctx) -> None:
        t = Translator(MESSAGES, lang)
        now = self.page.clock()
        html = self.page.env.get_template(f"edge/{template}").render(
            t=t, lang=lang, other_lang="en" if lang == "ko" else "ko", store_label=self.page.store_label,
            dur=lambda since: format_duration(None if since is None else now - since, t, unknown=t("dur.none")),
            clock=lambda ts, fmt="%H:%M:%S %Z": store_clock(ts, self.page.zone, fmt), now=now,
            zone=self.page.zone.key, **ctx)
        hs = list(headers or [])
        if set_lang:
            hs.append(("Set-Cookie", f"lang={lang}; Path=/; Max-Age=31536000; SameSite=Strict"))
        self._send(status, html.encode(), "text/html; charset=utf-8", hs)

    def _redirect(self, location: str, headers: list[tuple[str, str]] | None = None) -> None:
        self._send(HTTPStatus.SEE_OTHER, b"", "text/plain", [("Location", location), *(headers or [])])

    # routes
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        try:
            self._get()
        except Exception:
            log.exception("local page: %s failed", self.path)
            self._send(500, b"internal error (see the agent's log)", "text/plain; charset=utf-8")

    def do_POST(self) -> None:
        try:
            self._post()
        except TimeoutError:  # announced more body than it sent: drop it, free the thread
            log.info("local page: %s sent an incomplete request body; closed", self.client_address[0])
            self.close_connection = True
        except Exception:
            log.exception("local page: POST %s failed", self.path)
            self._send(500, b"internal error (see the agent's log)", "text/plain; charset=utf-8")

    def _get(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        lang, set_lang = self._lang(query)
        path = url.path
        if path == "/healthz":
            return self._json(200, {"ok": True, "outbox_depth": self.page.store.depth()})
        if path.startswith("/static/edge/"):
            return self._static(path.removeprefix("/static/edge/"))
        if path.startswith("/static/shared/"):  # the seat map's CSS/JS, shared with the hub
            return self._static(path.removeprefix("/static/shared/"), SHARED_STATIC_DIR)
        if path == "/login":
            return self._login_form(200, lang, set_lang, next_=safe_next((query.get("next") or ["/"])[0]))
        if not self.page.ui.password_hash:
            return self._render(503, "message.html", lang, set_lang, message=self._t(lang)("login.not_set"))
        if not self.page.session_ok(self._cookie(SESSION_COOKIE)):
            if path.startswith("/api/"):
                return self._json(401, {"error": "login required: POST the password to /login"})
            return self._redirect("/login?next=" + (url.path or "/"))
        if path == "/":
            payload = self.page.seats_payload()
            t = self._t(lang)
            channels = seatmap.seat_cells(
                (seatmap.SeatInput(s.seat_id, s.label, s.channel, s.state, s.since, s.polygon, s.resumed)
                 for s in payload.seats),
                payload.generated_at, t)
            events = self.page.store.events(limit=20)
            return self._render(200, "seats.html", lang, set_lang, payload=payload, channels=channels,
                                cells=[c for cells in channels.values() for c in cells], events=events,
                                refresh_s=self.page.refresh_s,
                                seatmap_json=json.dumps(seatmap.js_strings(t), ensure_ascii=False).replace("<", "\\u003c"))
        if path == "/api/seats":
            return self._json(200, self.page.seats_payload())
        if path == "/api/events":
            raw = (query.get("limit") or ["100"])[0]
            try:
                limit = int(raw)
                if not 1 <= limit <= MAX_EVENTS:
                    raise ValueError
            except ValueError:
                return self._json(400, {"error": f"limit must be an integer from 1 to {MAX_EVENTS}, got {raw!r}"})
            evs = [EventView(e.id, e.seat_id, e.from_state, e.to_state, e.at)
                   for e in self.page.store.events(limit=limit)]
            return self._json(200, {"events": evs})
        return self._render(404, "message.html", lang, set_lang, message=self._t(lang)("error.not_found"))

    @staticmethod
    def _t(lang: str) -> Translator:
        return Translator(MESSAGES, lang)

    def _static(self, name: str, folder: Path = STATIC_DIR) -> None:
        p = folder / name
        if "/" in name or name.startswith(".") or p.suffix not in _STATIC_TYPES or not p.is_file():
            return self._send(404, b"not found", "text/plain")
        self._send(200, p.read_bytes(), _STATIC_TYPES[p.suffix])

    def _login_form(self, status: int, lang: str, set_lang: bool, next_: str = "/", error: str | None = None) -> None:
        t = self._t(lang)
        if not self.page.ui.password_hash:
            error = t("login.not_set")
        self._render(status, "login.html", lang, set_lang, error=error, next_=next_)

    def _post(self) -> None:
        url = urlsplit(self.path)
        lang, set_lang = self._lang(parse_qs(url.query))
        t = self._t(lang)
        if url.path == "/logout":
            self.page.revoke(self._cookie(SESSION_COOKIE))
            gone = f"{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
            return self._redirect("/login", [("Set-Cookie", gone)])
        if url.path != "/login":
            return self._send(404, b"not found", "text/plain")
        raw_length = self.headers.get("Content-Length") or "0"
        if not raw_length.isdigit():  # "-1", "abc": reading would wait for the client to close
            self.close_connection = True
            return self._send(400, b"Content-Length must be a byte count", "text/plain")
        length = int(raw_length)
        if length > MAX_FORM_BYTES:
            self.close_connection = True
            return self._send(413, b"form too large", "text/plain")
        form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        password = (form.get("password") or [""])[0]
        next_ = safe_next((form.get("next") or ["/"])[0])
        stored = self.page.ui.password_hash
        if not stored:
            return self._login_form(503, lang, set_lang, next_)
        addr = self.client_address[0]
        wait = self.page.throttled_for(addr)
        if wait:
            return self._login_form(429, lang, set_lang, next_, t("login.throttled", seconds=wait))
        try:
            ok = verify_password(stored, password)
        except PasswordHashError as exc:
            log.error("local page login: %s", exc)
            return self._login_form(500, lang, set_lang, next_, t("login.broken"))
        if not ok:
            self.page.record_failure(addr)
            log.warning("local page: wrong password from %s", addr)
            return self._login_form(401, lang, set_lang, next_, t("login.wrong"))
        cookie = (f"{SESSION_COOKIE}={self.page.new_session()}; Path=/; Max-Age={SESSION_TTL_S}; HttpOnly; "
                  "SameSite=Strict")
        self._redirect(next_, [("Set-Cookie", cookie)])
