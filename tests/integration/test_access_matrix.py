"""The authorization matrix: every route of the app (enumerated from ``app.routes``, so a new route
fails this test until it is classified here) x every method x role (anonymous, admin, hq_viewer,
staff of store a) x store (a, b) -> allowed, 401 or 403; and the WebSocket -> accepted, 4401 or
4403. Real PostgreSQL and Mosquitto.

Classes (what each role gets):

=============  =========  =======  =========  =============  =============
class          anonymous  admin    hq_viewer  staff a: a     staff a: b
=============  =========  =======  =========  =============  =============
public         ok         ok       ok         ok             ok
read           401        ok       ok         ok (filtered)  -
read_store     401        ok       ok         ok             403
write_store    401        ok       403        403            403
admin_store    401        ok       403        403            403
admin          401        ok       403        403            -
any_user       401        ok       ok         ok             -
=============  =========  =======  =========  =============  =============
"""

from __future__ import annotations

import re

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.routes import HTTPRoute, WebSocketRoute
from litestar.testing import TestClient

from tests.support.hub_auth import create_user, login
from tests.support.waiting import wait_for

# (method, route path) -> class. HEAD and OPTIONS are answered by Litestar for each GET route:
# HEAD follows its GET; OPTIONS (CORS preflight) is checked below as "read".
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "public",
    ("GET", "/metrics"): "public",
    ("GET", "/login"): "public",
    ("POST", "/login"): "public",
    ("GET", "/static/{file_path:path}"): "public",
    ("POST", "/logout"): "any_user",
    ("GET", "/api/v1/me"): "read",
    ("GET", "/api/v1/audit"): "admin",
    ("GET", "/"): "read",
    ("GET", "/api/v1/stores"): "read",
    ("GET", "/api/v1/alerts"): "read",
    ("GET", "/schema"): "read",
    ("GET", "/api/v1/stores/{store_id:str}"): "read_store",
    ("GET", "/api/v1/stores/{store_id:str}/seats"): "read_store",
    ("GET", "/api/v1/stores/{store_id:str}/events"): "read_store",
    ("GET", "/api/v1/stores/{store_id:str}/events.csv"): "read_store",
    ("GET", "/api/v1/stores/{store_id:str}/stats"): "read_store",
    ("GET", "/api/v1/stores/{store_id:str}/stats.csv"): "read_store",
    ("GET", "/api/v1/stores/{store_id:str}/edges/{edge_id:str}/config"): "read_store",
    ("PUT", "/api/v1/stores/{store_id:str}/edges/{edge_id:str}/config"): "write_store",
    ("POST", "/api/v1/stores/{store_id:str}/edges/{edge_id:str}/snapshots"): "admin_store",
    ("GET", "/api/v1/stores/{store_id:str}/snapshots"): "admin_store",
    ("GET", "/api/v1/stores/{store_id:str}/snapshots/{snapshot_id:int}/image"): "admin_store",
    ("GET", "/stores/{store_id:str}"): "read_store",
    ("GET", "/stores/{store_id:str}/stats"): "read_store",
    ("GET", "/stores"): "read",  # the store picker's form target (a redirect)
    ("GET", "/stores/{store_id:str}/history"): "read_store",
    ("GET", "/api/v1/stores/{store_id:str}/history"): "read_store",
    ("GET", "/stores/{store_id:str}/roi"): "read_store",  # view only unless admin
    ("POST", "/stores/{store_id:str}/roi/check"): "write_store",
    # kiosk (issue 18): the vendor's webhook has no login (HMAC-signed instead; 404 without a kiosk)
    ("POST", "/api/v1/stores/{store_id:str}/kiosk/webhook"): "public",
    ("GET", "/api/v1/stores/{store_id:str}/kiosk"): "read_store",
    ("POST", "/api/v1/stores/{store_id:str}/kiosk/import"): "write_store",
    ("GET", "/api/v1/stores/{store_id:str}/kiosk/stats"): "read_store",
    ("GET", "/api/v1/kiosk/stats"): "read",
    ("GET", "/stores/{store_id:str}/kiosk"): "read_store",
    ("POST", "/stores/{store_id:str}/kiosk/import"): "write_store",
    ("POST", "/stores/{store_id:str}/kiosk/map"): "write_store",
    ("POST", "/stores/{store_id:str}/kiosk/place"): "write_store",
    ("GET", "/stores/{store_id:str}/kiosk/stats"): "read_store",
    # users page (issue 19): admins manage accounts; everyone changes their own password
    ("GET", "/users"): "admin",
    ("POST", "/users/add"): "admin",
    ("POST", "/users/{username:str}/role"): "admin",
    ("POST", "/users/{username:str}/disable"): "admin",
    ("POST", "/users/{username:str}/enable"): "admin",
    ("POST", "/users/{username:str}/password"): "admin",
    ("GET", "/account/password"): "any_user",
    ("POST", "/account/password"): "any_user",
}
WS_ROUTES = {"/ws/stores/{store_id:str}": "read_store"}
ROLES = ("anonymous", "admin", "viewer", "alice")  # alice: staff of store a
OK, DENIED_401, DENIED_403 = "ok", 401, 403


def expected(cls: str, role: str, store: str | None) -> str | int:
    if cls == "public":
        return OK
    if role == "anonymous":
        return DENIED_401
    if cls in ("read", "any_user"):
        return OK
    if cls == "read_store":
        return OK if role != "alice" or store == "a" else DENIED_403
    if cls in ("write_store", "admin_store", "admin"):
        return OK if role == "admin" else DENIED_403
    raise AssertionError(f"unknown class {cls}")


def app_routes(app) -> tuple[set[tuple[str, str]], set[str]]:
    http, ws = set(), set()
    for r in app.routes:
        if isinstance(r, WebSocketRoute):
            ws.add(r.path)
        elif isinstance(r, HTTPRoute):
            for m in r.methods - {"OPTIONS", "HEAD"}:
                http.add((m, r.path))
    # the OpenAPI plugin mounts many /schema/... variants: all behave like /schema
    http = {(m, p) for m, p in http if not (p.startswith("/schema/") or p == "/schema")} | {("GET", "/schema")}
    return http, ws


def concrete(path: str, store: str) -> str:
    path = path.replace("{store_id:str}", store).replace("{edge_id:str}", "edge-1")
    path = path.replace("{username:str}", "nobody")  # no such user: an allowed call changes nothing
    return path.replace("{file_path:path}", "hub/hub.css").replace("{snapshot_id:int}", "1")


BODIES = {"PUT": {"seats": [{"seat_id": "n1", "channel": 1, "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]}]}}


class Roles:
    """One TestClient (one app lifespan, one event loop) that acts as each role in turn by
    swapping the session cookie and CSRF header it sends."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.creds: dict[str, tuple[str, str]] = {}

    def add(self, role: str) -> None:
        self.anonymous()
        login(self.client, role)
        self.creds[role] = (self.client.cookies["seat_session"], self.client.headers["X-CSRF-Token"])

    def anonymous(self) -> TestClient:
        self.client.cookies.clear()
        self.client.headers.pop("X-CSRF-Token", None)
        return self.client

    def __getitem__(self, role: str) -> TestClient:
        c = self.anonymous()
        if role != "anonymous":
            cookie, csrf = self.creds[role]
            c.cookies.set("seat_session", cookie)
            c.headers["X-CSRF-Token"] = csrf
        return c


@pytest.fixture(scope="module")
def matrix_hub(request):
    """One hub for the whole matrix (module scope: seconds, not minutes): stores a and b with an
    edge each, and a session per role."""
    pg_url = request.getfixturevalue("pg_url_module")
    broker = request.getfixturevalue("broker_module")
    from hub.app import create_app
    from tests.support.hub_harness import SimEdge, hub_settings

    app = create_app(hub_settings(broker, pg_url), migrate=True)
    with TestClient(app) as client:
        wait_for(lambda: app.state.mqtt.subscribed.is_set(), what="hub subscribed")
        edges = [SimEdge(broker, store_id=s, edge_id="edge-1") for s in ("a", "b")]
        for e in edges:
            e.birth()
        create_user(pg_url, "admin", "admin")
        create_user(pg_url, "viewer", "hq_viewer")
        create_user(pg_url, "alice", "staff", ["a"])
        roles = Roles(client)
        for role in ROLES[1:]:
            roles.add(role)
        wait_for(lambda: len(roles["admin"].get("/api/v1/stores").json()) == 2, what="both births")
        yield app, roles
        for e in edges:
            e.close()


@pytest.fixture(scope="module")
def pg_url_module():
    from tests.support.services import postgres_database

    with postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def broker_module():
    from tests.support.services import shared_broker

    with shared_broker() as b:
        yield b


def test_every_route_is_classified(matrix_hub):
    app, _ = matrix_hub
    http, ws = app_routes(app)
    assert http == set(ROUTES), (
        f"routes not in the matrix: {sorted(http - set(ROUTES))}; gone: {sorted(set(ROUTES) - http)}")
    assert ws == set(WS_ROUTES)


def _call(client, method: str, path: str):
    kw = {"follow_redirects": False}
    if method == "PUT":
        base = client.get(path).json().get("version", 0) if path.endswith("/config") else 0
        kw["json"] = {**BODIES["PUT"], "base_version": base}
    if method == "POST" and path == "/logout":
        # a logout ends the shared client's session: check it on a throwaway one below instead
        raise RuntimeError("logout is checked separately")
    if method == "POST" and path.endswith("/snapshots"):
        kw["json"] = {"channel": 1}
    if method == "POST" and path == "/login":
        kw["data"] = {"username": "x", "password": "y"}
    return client.request(method, path, **kw)


@pytest.mark.parametrize("role", ROLES)
def test_http_matrix(matrix_hub, role):
    app, clients = matrix_hub
    client = clients[role]
    problems = []
    checked = 0
    for (method, path), cls in sorted(ROUTES.items()):
        if path == "/logout":
            continue
        stores = ["a", "b"] if "{store_id" in path else [None]
        for store in stores:
            url = concrete(path, store or "a")
            want = expected(cls, role, store)
            r = _call(client, method, url)
            got = r.status_code
            checked += 1
            if (method, path) == ("POST", "/login"):  # public: the form itself answers (no CSRF token sent)
                if got != 403 or 'name="csrf_token"' not in r.text:
                    problems.append(f"{role} POST /login: want the form's own 403, got {got}")
            elif want == OK:
                if got in (401, 403) or got >= 500 and got != 503:
                    problems.append(f"{role} {method} {url}: want allowed, got {got} {r.text[:120]}")
            elif got != want:
                problems.append(f"{role} {method} {url}: want {want}, got {got} {r.text[:120]}")
            if method == "GET" and cls != "public":  # OPTIONS needs a login too (no route leaks)
                o = client.options(url)
                if role == "anonymous" and o.status_code != 401:
                    problems.append(f"{role} OPTIONS {url}: want 401, got {o.status_code}")
    assert not problems, "\n".join(problems)
    assert checked >= len(ROUTES)


def test_logout_matrix(matrix_hub):
    _, roles = matrix_hub
    assert roles["anonymous"].post("/logout", follow_redirects=False).status_code == 401
    for role in ROLES[1:]:
        c = roles.anonymous()
        login(c, role)  # a second session of this user: the matrix's own one stays valid
        r = c.post("/logout", follow_redirects=False)  # login() set the X-CSRF-Token header
        assert r.status_code == 303, (role, r.status_code)
        assert c.get("/api/v1/me").status_code == 401
        assert roles[role].get("/api/v1/me").status_code == 200  # only that session ended


def test_lists_are_filtered_to_the_users_stores(matrix_hub):
    _, clients = matrix_hub
    for role, want in (("admin", ["a", "b"]), ("viewer", ["a", "b"]), ("alice", ["a"])):
        c = clients[role]
        assert [s["store_id"] for s in c.get("/api/v1/stores").json()] == want, role
        page = c.get("/").text
        assert re.findall(r'data-store-id="([^"]+)"', page) == want, role
        assert {a["store_id"] for a in c.get("/api/v1/alerts").json()} <= set(want), role


@pytest.mark.parametrize("role", ROLES)
def test_websocket_matrix(matrix_hub, role):
    _, clients = matrix_hub
    client = clients[role]
    for store in ("a", "b"):
        want = expected(WS_ROUTES["/ws/stores/{store_id:str}"], role, store)
        for origin in (None, "http://testserver.local", "http://evil.example"):
            headers = {"origin": origin} if origin else {}
            want_here = 4403 if want == OK and origin == "http://evil.example" else want
            try:
                with client.websocket_connect(f"/ws/stores/{store}", headers=headers) as ws:
                    hello = ws.receive_json(timeout=5)
                    got: str | int = OK if hello == {"type": "hello", "store_id": store} else f"bad hello {hello}"
            except WebSocketDisconnect as exc:
                got = exc.code
            want_code = {DENIED_401: 4401, DENIED_403: 4403}.get(want_here, want_here)
            assert got == want_code, (role, store, origin, got)
