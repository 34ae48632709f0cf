"""Alert delivery against real local servers: an HTTP server in a thread, aiosmtpd in-process."""

from __future__ import annotations

import json
from email import message_from_bytes, policy

import httpx
import pytest
from aiosmtpd.controller import Controller

from hub.alerts.delivery import Notification, Notifier, RetryPolicy, SmtpTarget, post_webhook, send_email
from hub.settings import AlertSettings
from tests.support.services import free_port
from tests.support.webhook import Hook

FAST = RetryPolicy(attempts=4, backoff_s=0.01, timeout_s=1.0)
NOTE = Notification(
    alert_id=1,
    kind="seat_abandoned",
    priority="high",
    store_id="gangnam",
    message="좌석 A1: 짐만 있고 사람 없음 12분",
    opened_at=1_700_000_000.0,
    dedupe_key="seat_abandoned:gangnam:A1",
    seat_id="A1",
    edge_id="e1",
)






async def test_webhook_retries_500s_and_delivers_exactly_once(hook: Hook):
    hook.statuses = [500, 500]
    async with httpx.AsyncClient() as client:
        res = await post_webhook(client, hook.url, NOTE, FAST)
    assert (res.ok, res.attempts, res.error) == (True, 3, None)
    assert len(hook.bodies) == 3 and len(hook.accepted) == 1
    body = json.loads(hook.accepted[0])
    assert body["dedupe_key"] == "seat_abandoned:gangnam:A1" and body["message"] == NOTE.message


async def test_webhook_gives_up_after_n_attempts_and_says_why(hook: Hook):
    hook.statuses = [503] * 10
    async with httpx.AsyncClient() as client:
        res = await post_webhook(client, hook.url, NOTE, FAST)
    assert (res.ok, res.attempts, res.error) == (False, 4, "HTTP 503")
    assert len(hook.bodies) == 4 and hook.accepted == []


async def test_webhook_client_error_is_not_retried(hook: Hook):
    hook.statuses = [404]
    async with httpx.AsyncClient() as client:
        res = await post_webhook(client, hook.url, NOTE, FAST)
    assert not res.ok and res.attempts == 1 and res.error.startswith("HTTP 404")


async def test_webhook_timeout_is_retried(hook: Hook):
    hook.delay_s = 0.6
    async with httpx.AsyncClient() as client:
        res = await post_webhook(
            client, hook.url, NOTE, RetryPolicy(attempts=3, backoff_s=0.01, timeout_s=0.3)
        )
    assert res.ok and res.attempts == 2


async def test_unreachable_webhook_gives_up_with_connection_error():
    url = f"http://127.0.0.1:{free_port()}/nobody"
    async with httpx.AsyncClient() as client:
        res = await post_webhook(client, url, NOTE, RetryPolicy(attempts=2, backoff_s=0.01, timeout_s=0.5))
    assert not res.ok and res.attempts == 2 and "connection failed" in res.error


class Mailbox:
    def __init__(self, refuse_first: int = 0) -> None:
        self.refuse = refuse_first
        self.messages: list[bytes] = []
        self.rcpts: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        self.messages.append(envelope.content)
        self.rcpts.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def smtp_server():
    boxes: list[tuple[Controller, Mailbox]] = []

    def start(refuse_first: int = 0) -> tuple[SmtpTarget, Mailbox]:
        box = Mailbox(refuse_first)
        ctl = Controller(box, hostname="127.0.0.1", port=free_port())
        ctl.start()
        boxes.append((ctl, box))
        return SmtpTarget(
            "127.0.0.1", ctl.port, "hub@example.test", ("staff@example.test", "hq@example.test")
        ), box

    yield start
    for ctl, _ in boxes:
        ctl.stop()


async def test_email_is_received_after_a_temporary_refusal(smtp_server):
    target, box = smtp_server(refuse_first=1)
    res = await send_email(NOTE, target, FAST)
    assert (res.ok, res.attempts) == (True, 2)
    (raw,) = box.messages
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == f"[높음] gangnam: {NOTE.message}"
    assert box.rcpts == [["staff@example.test", "hq@example.test"]]
    assert "seat: A1" in msg.get_content()


async def test_email_to_a_dead_server_gives_up():
    target = SmtpTarget("127.0.0.1", free_port(), "hub@example.test", ("a@example.test",))
    res = await send_email(NOTE, target, RetryPolicy(attempts=2, backoff_s=0.01, timeout_s=0.5))
    assert not res.ok and res.attempts == 2 and res.error.startswith("ConnectionRefusedError")


async def test_notifier_sends_to_every_target_and_one_failure_does_not_stop_the_rest(hook: Hook, smtp_server):
    target, box = smtp_server()
    dead = f"http://127.0.0.1:{free_port()}/dead"
    settings = AlertSettings(
        webhooks=[hook.url, dead],
        smtp_host=target.host,
        smtp_port=target.port,
        smtp_from="hub@example.test",
        smtp_to=["staff@example.test"],
    )
    notifier = Notifier.from_settings(settings, RetryPolicy(attempts=2, backoff_s=0.01, timeout_s=0.5))
    try:
        results = await notifier.send(NOTE)
    finally:
        await notifier.aclose()
    assert [(r.target, r.ok) for r in results] == [(hook.url, True), (dead, False), (target.name, True)]
    assert len(hook.accepted) == 1 and len(box.messages) == 1


def test_notifier_without_targets_is_disabled():
    assert not Notifier.from_settings(AlertSettings()).enabled
    # an SMTP host without recipients is not a target
    assert not Notifier.from_settings(AlertSettings(smtp_host="127.0.0.1")).enabled
