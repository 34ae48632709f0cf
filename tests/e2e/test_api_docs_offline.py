"""Issue 19 point 6: the API docs work without internet. Chromium may reach only the hub: every
other request is refused (as on a closed network); /schema (Redoc) and /schema/swagger (Swagger
UI) still draw the API, from the JS and CSS the hub serves itself. Real hub (SQLite, the machine's
Mosquitto), real Debian Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from hub.app import create_app
from tests.support.browser import artifact, launch_chromium, serve_app
from tests.support.hub_auth import create_user, login_page
from tests.support.hub_harness import hub_settings
from tests.support.services import free_port

pytestmark = [pytest.mark.e2e]


def test_api_docs_render_with_no_internet(tmp_path, broker):
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
    app = create_app(hub_settings(broker, db_url), migrate=True)
    port = free_port()
    with serve_app(app, port) as base, sync_playwright() as p:
        create_user(db_url, "admin", "admin")
        browser = launch_chromium(p)
        page = browser.new_page()
        outside: list[str] = []

        def only_the_hub(route):
            if route.request.url.startswith(base):
                return route.continue_()
            outside.append(route.request.url)
            return route.abort()

        page.route("**/*", only_the_hub)
        login_page(page, base, "admin")
        page.goto(f"{base}/schema")
        page.wait_for_selector("[data-section-id^='operation/']", state="attached", timeout=20_000)  # Redoc drew them
        assert page.locator("[data-section-id^='operation/']").count() > 10
        assert page.locator(".api-content h1").first.inner_text().startswith("seat-hub")
        page.screenshot(path=artifact("api-docs-redoc-offline.png"))
        page.goto(f"{base}/schema/swagger")
        page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)  # Swagger UI drew them too
        page.screenshot(path=artifact("api-docs-swagger-offline.png"))
        # Nothing the docs need was asked of the internet: only Redoc's "API docs by Redocly"
        # badge image, hard-wired in its bundle (its absence shows nothing broken).
        assert [u for u in outside if u != "https://cdn.redoc.ly/redoc/logo-mini.svg"] == [], outside
        for viewer in ("elements", "rapidoc", "scalar"):  # the CDN-only viewers are not offered
            assert page.request.get(f"{base}/schema/{viewer}").status == 404
        browser.close()
