"""Who may reach which route: one guard for the whole app, deny by default.

Every route handler falls in one of these classes, set with ``opt={"access": ...}``:

- ``PUBLIC``   no login: /login, /healthz, /metrics (aggregate counters, no store data), /static.
- (nothing)    the default: a logged-in user. Reading (GET/HEAD) is allowed to every role;
               anything else (POST/PUT/PATCH/DELETE) only to an admin. A ``store_id`` path
               parameter must be a store the user may see (staff: assigned stores only).
- ``ANY_USER`` a state-changing route open to every logged-in role (logout).
- ``ADMIN``    admins only, whatever the method (snapshots, user management).

On top: every state-changing request carries the session's CSRF token (header ``X-CSRF-Token``
or form field ``csrf_token``), and a WebSocket from a browser must come from the hub's own
origin (or ``auth.allowed_origins``). A new route therefore needs a login, is read-only for
non-admins and is store-scoped by its path without anyone remembering to add a check. Routes
that list several stores filter with ``visible``/``require_store`` themselves.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from litestar import MediaType, Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
    WebSocketException,
)
from litestar.handlers import BaseRouteHandler
from litestar.response import Redirect

from hub.auth.users import CSRF_FIELD, CSRF_HEADER, Principal

PUBLIC: dict[str, Any] = {"access": "public"}
ANY_USER: dict[str, Any] = {"access": "user"}
ADMIN: dict[str, Any] = {"access": "admin"}
ACCESS_CLASSES = ("public", "default", "user", "admin")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

T = TypeVar("T")


def access_of(handler: BaseRouteHandler) -> str:
    access = handler.opt.get("access", "default")
    if access not in ACCESS_CLASSES:  # a typo must not open a route
        raise RuntimeError(f"route {handler} has unknown access class {access!r}")
    return access


def principal(connection: ASGIConnection) -> Principal | None:
    user = connection.scope.get("user")
    return user if isinstance(user, Principal) else None


def require_store(user: Principal | None, store_id: str) -> None:
    if user is None:
        raise NotAuthorizedException("log in first")
    if not user.can_see(store_id):
        raise PermissionDeniedException(f"no access to store {store_id!r}")


def visible(user: Principal, items: Iterable[T], store_of=lambda x: x.store_id) -> list[T]:
    """The items (with a store id) this user may see."""
    return [x for x in items if user.can_see(store_of(x))]


def origin_allowed(connection: ASGIConnection, allowed: Iterable[str]) -> bool:
    """Browsers always send Origin on a WebSocket; it must be this hub (the Host it was reached
    at) or a configured origin. No Origin at all is a non-browser client (no ambient cookies to
    abuse from another site)."""
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    if origin in allowed:
        return True
    host = connection.headers.get("host", "")
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc == host


async def _csrf_ok(connection: ASGIConnection, user: Principal) -> bool:
    sent = connection.headers.get(CSRF_HEADER)
    if sent is None and isinstance(connection, Request):
        ctype = connection.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            sent = (await connection.form()).get(CSRF_FIELD)
    return bool(sent) and bool(user.csrf_token) and hmac.compare_digest(str(sent), user.csrf_token)


async def access_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """The app-wide guard (see the module docstring). A refused WebSocket is closed before it is
    accepted, with code 4401 (not logged in) or 4403 (not allowed)."""
    if connection.scope["type"] != "websocket":
        return await _check(connection, handler)
    try:
        await _check(connection, handler)
    except NotAuthorizedException as exc:
        raise WebSocketException(detail=exc.detail, code=4401) from None
    except PermissionDeniedException as exc:
        raise WebSocketException(detail=exc.detail, code=4403) from None
    except ValidationException as exc:
        raise WebSocketException(detail=exc.detail, code=4400) from None


async def _check(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    # PostgreSQL text cannot hold NUL: such an id or filter would be a 500 deep in a query. No
    # legitimate URL has one, so it is refused here, for every route, before anything else.
    if "\x00" in connection.scope["path"] or b"%00" in connection.scope.get("query_string", b""):
        raise ValidationException("NUL characters are not allowed in URLs")
    access = access_of(handler)
    if access == "public":
        return
    user = principal(connection)
    if user is None:
        raise NotAuthorizedException("log in first (POST /login)")
    if connection.scope["type"] == "websocket":
        if not origin_allowed(connection, connection.app.state.settings.auth.allowed_origins):
            raise PermissionDeniedException("WebSocket from a foreign origin")
    elif connection.scope["method"] not in SAFE_METHODS:
        if not await _csrf_ok(connection, user):
            raise PermissionDeniedException(f"missing or wrong CSRF token (send the {CSRF_HEADER} header "
                                            f"or the {CSRF_FIELD} form field of your session)")
        if access != "user" and not user.is_admin:
            raise PermissionDeniedException("only an admin may change this")
    if access == "admin" and not user.is_admin:
        raise PermissionDeniedException("admins only")
    store_id = connection.path_params.get("store_id")
    if store_id is not None:
        require_store(user, str(store_id))


def _wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/schema", "/ws/")) or request.method != "GET":
        return False
    return "text/html" in request.headers.get("accept", "")


def not_logged_in(request: Request, exc: NotAuthorizedException) -> Response:
    """Pages send the browser to the login form (and back after); the API answers 401 JSON."""
    if _wants_html(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/login?next={quote(target, safe='')}", status_code=303)
    return Response({"status_code": 401, "detail": exc.detail}, status_code=401, media_type=MediaType.JSON)
