"""Issue 19 point 10: users in the UI. An admin adds a store-staff account, changes its role and
stores, resets its password, disables and enables it, all from the users page (Korean by
default); a bad password is refused with the reason and nothing is lost from the form; staff
cannot open the page but change their own password (current one required; every session ends).
Every change is in the audit log, with who made it. Real hub (SQLite, the machine's Mosquitto),
real Debian Chromium, forms without JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from hub.app import create_app
from tests.support.browser import artifact, launch_chromium, serve_app
from tests.support.hub_auth import create_user, login_page
from tests.support.hub_harness import SimEdge, hub_settings
from tests.support.services import free_port
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e]

FIRST, SECOND, THIRD = "minji-first-pass", "minji-reset-pass", "minji-own-choice"


def test_admin_manages_users_and_staff_change_their_password(tmp_path, broker):
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
    app = create_app(hub_settings(broker, db_url), migrate=True)
    with serve_app(app, free_port()) as base, sync_playwright() as p:
        wait_for(lambda: app.state.mqtt.subscribed.is_set(), what="hub subscribed")
        edge = SimEdge(broker, store_id="store-a")
        edge.birth()
        create_user(db_url, "admin", "admin")
        browser = launch_chromium(p)
        admin = browser.new_context().new_page()
        login_page(admin, base, "admin")
        wait_for(lambda: "store-a" in admin.request.get(f"{base}/api/v1/stores").text(), what="store-a known")
        admin.click("#nav-users")
        assert admin.url.endswith("/users") and admin.locator("h1").inner_text() == "사용자 관리"

        # a password that is too short: refused with the reason, the username stays in the form
        add = admin.locator("#user-add")
        add.locator("input[name=username]").fill("minji")
        add.locator("select[name=role]").select_option("staff")
        add.locator("input[value=store-a]").check()
        add.locator("input[name=password]").fill("short")
        add.locator("button[type=submit]").click()
        assert "바꾸지 못했습니다" in admin.locator("#users-error").inner_text()
        assert admin.locator("#user-add input[name=username]").input_value() == "minji"
        assert admin.locator('tr[data-user="minji"]').count() == 0

        add.locator("input[value=store-a]").check()
        add.locator("input[name=password]").fill(FIRST)
        add.locator("button[type=submit]").click()
        assert "minji" in admin.locator("#users-done").inner_text()
        row = admin.locator('tr[data-user="minji"]')
        assert row.locator(".user-role input[value=store-a]").is_checked()
        admin.screenshot(path=artifact("hub-users-added.png"), full_page=True)

        row.locator(".user-role select[name=role]").select_option("hq_viewer")
        row.locator(".user-role button").click()
        assert "역할" in admin.locator("#users-done").inner_text()
        assert admin.locator('tr[data-user="minji"] .user-role select').input_value() == "hq_viewer"
        row = admin.locator('tr[data-user="minji"]')
        row.locator(".user-role select[name=role]").select_option("staff")
        row.locator(".user-role input[value=store-a]").check()
        row.locator(".user-role button").click()

        row = admin.locator('tr[data-user="minji"]')
        row.locator(".user-password input[name=password]").fill(SECOND)
        row.locator(".user-password button").click()
        assert "비밀번호" in admin.locator("#users-done").inner_text()

        admin.locator('tr[data-user="minji"] .user-toggle button').click()
        assert admin.locator('tr[data-user="minji"] .user-state').get_attribute("data-disabled") == "true"
        staff_ctx = browser.new_context()
        staff = staff_ctx.new_page()
        staff.goto(f"{base}/login")
        staff.fill("input[name=username]", "minji")
        staff.fill("input[name=password]", SECOND)
        staff.click("button[type=submit]")
        assert staff.locator("#login-error").count() == 1  # disabled: no way in
        admin.locator('tr[data-user="minji"] .user-toggle button').click()
        assert admin.locator('tr[data-user="minji"] .user-state').get_attribute("data-disabled") == "false"
        assert admin.locator('tr[data-user="admin"] .user-toggle').count() == 0  # no self-lockout button

        # staff: no users page, but their own password
        login_page(staff, base, "minji", SECOND)
        assert staff.locator("#nav-users").count() == 0
        assert staff.request.get(f"{base}/users").status == 403
        staff.click("#nav-account")
        staff.fill("#current", "not-my-password")
        staff.fill("#new", THIRD)
        staff.fill("#again", THIRD)
        staff.click("#account-submit")
        assert "지금 비밀번호가 맞지 않습니다" in staff.locator("#account-error").inner_text()
        staff.fill("#current", SECOND)
        staff.fill("#new", THIRD)
        staff.fill("#again", THIRD)
        staff.click("#account-submit")
        assert "다시 로그인" in staff.locator("#account-done").inner_text()
        staff.screenshot(path=artifact("hub-account-password.png"), full_page=True)
        staff.goto(f"{base}/")
        assert "/login" in staff.url  # every session of minji ended
        login_page(staff, base, "minji", THIRD)
        assert "/login" not in staff.url

        audit = admin.request.get(f"{base}/api/v1/audit").json()
        kinds = [(a["kind"], a["username"]) for a in audit if "minji" in a["detail"] or a["username"] == "minji"]
        for want in [("user_add", "admin"), ("user_set_role", "admin"), ("user_password", "admin"),
                     ("user_disable", "admin"), ("user_enable", "admin"), ("user_password", "minji"),
                     ("user_password_failed", "minji")]:
            assert want in kinds, (want, kinds)
        admin.goto(f"{base}/users?lang=en")
        assert admin.locator("h1").inner_text() == "Users"
        browser.close()
        edge.close()
