"""Users and logins for tests of the hub's pages, API and WebSocket.

    create_user(db_url, "alice", "staff", stores=["store-a"])   # sync, own engine
    await acreate_user(db_url, ...)                              # from async tests
    login(client, "alice")        # httpx.Client / litestar TestClient: fills the /login form;
                                  # afterwards client.headers carries X-CSRF-Token
    login_page(page, base_url, "alice")   # Playwright: fills the /login form in the browser
    admin_client(client, db_url)  # create an admin (once per database) and log the client in

The schema must be migrated first (a hub started with migrate=True, or ``seat-hub migrate``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from hub.auth import users as auth
from hub.db.session import make_engine, make_sessionmaker

PASSWORD = "test-password-123"
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


async def acreate_user(db_url: str, username: str, role: str = "admin", stores: Iterable[str] = (),
                       password: str = PASSWORD, exist_ok: bool = True) -> None:
    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as db:
            try:
                await auth.add_user(db, username, password, role, stores, actor="test")
            except auth.AuthError:
                if not exist_ok:
                    raise
                return
            await db.commit()
    finally:
        await engine.dispose()


def create_user(db_url: str, username: str, role: str = "admin", stores: Iterable[str] = (),
                password: str = PASSWORD, exist_ok: bool = True) -> None:
    # In a thread of its own: callers may sit inside a running loop (Playwright's sync API has one).
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, acreate_user(db_url, username, role, stores, password, exist_ok)).result()


def login_form_token(client) -> str:
    r = client.get("/login", follow_redirects=False)
    m = _CSRF_INPUT.search(r.text)
    assert r.status_code == 200 and m, f"no login form at /login: {r.status_code} {r.text[:300]}"
    return m.group(1)


def login(client, username: str, password: str = PASSWORD, *, expect: int = 303):
    """Log ``client`` in through the real form; returns the POST response."""
    token = login_form_token(client)
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == expect, f"login of {username!r}: {r.status_code} {r.text[:300]}"
    if expect == 303:
        me = client.get("/api/v1/me")
        assert me.status_code == 200, me.text
        client.headers["X-CSRF-Token"] = me.json()["csrf_token"]
    return r


async def alogin(client, username: str, password: str = PASSWORD, *, expect: int = 303):
    """``login`` for an async client (litestar AsyncTestClient, httpx.AsyncClient)."""
    r = await client.get("/login", follow_redirects=False)
    m = _CSRF_INPUT.search(r.text)
    assert r.status_code == 200 and m, f"no login form at /login: {r.status_code} {r.text[:300]}"
    r = await client.post("/login", data={"username": username, "password": password, "csrf_token": m.group(1)},
                          follow_redirects=False)
    assert r.status_code == expect, f"login of {username!r}: {r.status_code} {r.text[:300]}"
    if expect == 303:
        me = await client.get("/api/v1/me")
        assert me.status_code == 200, me.text
        client.headers["X-CSRF-Token"] = me.json()["csrf_token"]
    return r


def admin_client(client, db_url: str, username: str = "admin"):
    create_user(db_url, username, "admin")
    login(client, username)
    return client


def login_page(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Log a Playwright page in by filling the /login form like a person would."""
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url, timeout=10_000)
