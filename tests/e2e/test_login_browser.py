"""The login page in real headless Chromium: Korean by default, a wrong password says so, the
dashboard after login, back to the page first asked for, logout ends it."""

from __future__ import annotations

import asyncio
import time

from playwright.sync_api import sync_playwright

from hub.app import create_app
from hub.db.models import Store
from hub.db.session import make_engine, make_sessionmaker
from hub.settings import DatabaseSettings, HubSettings
from tests.support.browser import launch_chromium, serve_app
from tests.support.hub_auth import PASSWORD, create_user
from tests.support.services import free_port


async def _store(url: str) -> None:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as db:
        db.add(Store(id="a", name="오류동점", created_at=time.time()))
        await db.commit()
    await engine.dispose()


def test_login_logout_in_the_browser(sqlite_url):
    app = create_app(HubSettings(database=DatabaseSettings(url=sqlite_url)), start_mqtt=False, migrate=True)
    with serve_app(app, free_port()) as base:
        asyncio.run(_store(sqlite_url))
        create_user(sqlite_url, "kim", "staff", ["a"])
        with sync_playwright() as p:
            _browse(p, base)


def _browse(p, base: str) -> None:
    browser = launch_chromium(p)
    page = browser.new_page()
    page.goto(f"{base}/stores/a")  # not logged in: sent to the form, and back afterwards
    assert "/login?next=%2Fstores%2Fa" in page.url
    assert page.locator("h1").inner_text() == "로그인"
    page.fill("input[name=username]", "kim")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert "올바르지 않습니다" in page.locator("#login-error").inner_text()
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/stores/a")
    assert "kim (매장 직원)" in page.locator("header .who").inner_text()
    cookie = next(c for c in page.context.cookies() if c["name"] == "seat_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("seat_session") == -1  # scripts cannot read it
    page.click("#logout-submit")
    page.wait_for_url(f"{base}/login")
    page.goto(f"{base}/stores/a")
    assert "/login" in page.url
    browser.close()
