"""Issue 20, item 11: the edge box's staff page against a hostile LAN client (real
ThreadingHTTPServer, real sockets, real SQLite store).

Before: logout only cleared the browser's cookie, so a copied token kept getting 200 on
/api/seats for its whole 12 h; a POST with ``Content-Length: -1`` (or more body announced than
sent) held one server thread each until the client closed (50 held).
"""

from __future__ import annotations

import http.client
import socket
import time
import urllib.parse

import pytest

from edge_agent.local_page.passwords import hash_password
from edge_agent.local_page.server import LocalPage
from edge_agent.settings import LocalUiSection
from edge_agent.storage.db import EdgeStore
from protocol import SeatDef

PASSWORD = "desk-lamp-42"
SEATS = [SeatDef("A1", 1, [(0.05, 0.1), (0.3, 0.1), (0.3, 0.5), (0.05, 0.5)], label="A-1")]


@pytest.fixture(scope="module")
def pw_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def store(tmp_path):
    s = EdgeStore(tmp_path / "edge.db")
    yield s
    s.close()


def _page(store, pw_hash, **kw) -> LocalPage:
    page = LocalPage(LocalUiSection(listen="127.0.0.1", port=0, password_hash=pw_hash), store, lambda: SEATS, **kw)
    page.start()
    return page


def _req(page, method, path, body=None, cookie=None):
    host, port = page._server.server_address[:2]
    c = http.client.HTTPConnection(host, port, timeout=5)
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
    if cookie:
        headers["Cookie"] = cookie
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def _login(page) -> str:
    r, _ = _req(page, "POST", "/login", urllib.parse.urlencode({"password": PASSWORD}))
    assert r.status == 303
    return r.getheader("Set-Cookie").split(";")[0]


def test_logout_ends_the_session_on_the_server_also_after_a_restart(store, pw_hash):
    page = _page(store, pw_hash)
    try:
        cookie = _login(page)
        other = _login(page)  # a second device stays logged in
        assert _req(page, "GET", "/api/seats", cookie=cookie)[0].status == 200
        r, _ = _req(page, "POST", "/logout", cookie=cookie)
        assert r.status == 303 and "Max-Age=0" in r.getheader("Set-Cookie")
        # the copied token is dead, not only the browser's cookie
        r, data = _req(page, "GET", "/api/seats", cookie=cookie)
        assert r.status == 401, data
        assert _req(page, "GET", "/", cookie=cookie)[0].status == 303
        assert _req(page, "GET", "/api/seats", cookie=other)[0].status == 200
    finally:
        page.stop()
    again = _page(store, pw_hash)  # the agent restarts: the logout holds, the other session too
    try:
        assert _req(again, "GET", "/api/seats", cookie=cookie)[0].status == 401
        assert _req(again, "GET", "/api/seats", cookie=other)[0].status == 200
        # logging out with a forged or foreign token revokes nothing and grows nothing
        assert _req(again, "POST", "/logout", cookie="seat_edge_session=1.2.3.abc")[0].status == 303
        assert len(again._revoked) == 1
    finally:
        again.stop()


def _raw(page, head: bytes) -> socket.socket:
    host, port = page._server.server_address[:2]
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(head)
    return s


def test_a_negative_content_length_is_answered_at_once_and_holds_no_thread(store, pw_hash):
    page = _page(store, pw_hash, request_timeout_s=2.0)
    socks = []
    try:
        t0 = time.monotonic()
        for _ in range(50):
            s = _raw(page, b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n")
            socks.append(s)
            reply = s.recv(4096)  # before: no reply until this client closed
            assert reply.startswith(b"HTTP/1.0 400"), reply[:80]
        assert time.monotonic() - t0 < 5.0
        # announcing more body than is sent: the thread is released after the request timeout
        slow = [_raw(page, b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\npassword=x")
                for _ in range(20)]
        socks += slow
        time.sleep(3.0)
        for s in slow:
            s.settimeout(1.0)
            assert s.recv(4096) == b""  # closed by the server, not by us
        r, _ = _req(page, "GET", "/healthz")
        assert r.status == 200
    finally:
        for s in socks:
            s.close()
        page.stop()
