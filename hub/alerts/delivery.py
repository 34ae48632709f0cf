"""Alert delivery: webhooks (HTTP POST JSON) and e-mail (SMTP), each with retries and backoff.

Delivery never raises: every target gets a :class:`DeliveryResult` (ok, attempts, last error),
so one dead webhook does not stop the e-mail, and the caller records what happened.
Retried: timeouts, connection errors, HTTP 5xx and 429. Not retried: other 4xx (the request
itself is wrong; sending it again will not help).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email import policy as email_policy
from email.message import EmailMessage

import httpx
import msgspec

log = logging.getLogger(__name__)


class Notification(msgspec.Struct, frozen=True, kw_only=True):
    """What is sent: the webhook body (JSON) and the content of the e-mail."""

    alert_id: int | None
    kind: str
    priority: str
    store_id: str
    message: str
    opened_at: float
    dedupe_key: str
    seat_id: str | None = None
    edge_id: str | None = None
    reminder: bool = False


@dataclass(frozen=True)
class DeliveryResult:
    target: str  # webhook URL or "smtp:host:port"
    ok: bool
    attempts: int
    error: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    backoff_s: float = 0.5  # wait backoff_s * 2**n before retry n+1
    max_backoff_s: float = 30.0
    timeout_s: float = 5.0

    def delay(self, attempt: int) -> float:
        return min(self.backoff_s * (2**attempt), self.max_backoff_s)


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"smtp:{self.host}:{self.port}"


class _Retry(Exception):
    """A failure worth trying again."""


async def _with_retries(
    target: str, policy: RetryPolicy, once: Callable[[], Awaitable[None]], sleep=asyncio.sleep
) -> DeliveryResult:
    error: str | None = None
    for attempt in range(policy.attempts):
        if attempt:
            await sleep(policy.delay(attempt - 1))
        try:
            await once()
            return DeliveryResult(target, True, attempt + 1)
        except _Retry as exc:
            error = str(exc)
            log.warning(
                "alert delivery to %s failed (attempt %d/%d): %s", target, attempt + 1, policy.attempts, error
            )
        except _Fatal as exc:
            log.error("alert delivery to %s refused, not retrying: %s", target, exc)
            return DeliveryResult(target, False, attempt + 1, str(exc))
    log.error("alert delivery to %s gave up after %d attempts: %s", target, policy.attempts, error)
    return DeliveryResult(target, False, policy.attempts, error)


class _Fatal(Exception):
    """A failure that retrying will not fix."""


async def post_webhook(
    client: httpx.AsyncClient, url: str, note: Notification, policy: RetryPolicy = RetryPolicy()
) -> DeliveryResult:
    body = msgspec.json.encode(note)

    async def once() -> None:
        try:
            r = await client.post(
                url, content=body, headers={"content-type": "application/json"}, timeout=policy.timeout_s
            )
        except httpx.TimeoutException as exc:
            raise _Retry(f"timeout: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise _Retry(f"connection failed: {exc!r}") from exc
        if r.status_code >= 500 or r.status_code == 429:
            raise _Retry(f"HTTP {r.status_code}")
        if r.status_code >= 400:
            raise _Fatal(f"HTTP {r.status_code}: {r.text[:200]}")

    return await _with_retries(url, policy, once)


def build_email(note: Notification, smtp: SmtpTarget) -> EmailMessage:
    # No folding below 998: Python 3.11's header folder drops the space between two encoded
    # words when it wraps a long Korean subject (seen in the tests), so keep the subject one word.
    msg = EmailMessage(policy=email_policy.SMTP.clone(max_line_length=998))
    tag = {"critical": "긴급", "high": "높음", "low": "낮음"}.get(note.priority, note.priority)
    prefix = "[재알림] " if note.reminder else ""
    msg["Subject"] = f"{prefix}[{tag}] {note.store_id}: {note.message}"
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(smtp.recipients)
    lines = [note.message, "", f"store: {note.store_id}", f"kind: {note.kind}", f"priority: {note.priority}"]
    if note.seat_id:
        lines.append(f"seat: {note.seat_id}")
    if note.edge_id:
        lines.append(f"edge: {note.edge_id}")
    msg.set_content("\n".join(lines))
    return msg


async def send_email(
    note: Notification, smtp: SmtpTarget, policy: RetryPolicy = RetryPolicy()
) -> DeliveryResult:
    msg = build_email(note, smtp)

    def blocking_send() -> None:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=policy.timeout_s) as s:
            s.send_message(msg)

    async def once() -> None:
        try:
            await asyncio.to_thread(blocking_send)
        except smtplib.SMTPRecipientsRefused as exc:
            raise _Fatal(f"recipients refused: {exc.recipients}") from exc
        except (smtplib.SMTPException, OSError) as exc:  # OSError covers refused/timeout sockets
            raise _Retry(f"{type(exc).__name__}: {exc}") from exc

    return await _with_retries(smtp.name, policy, once)


class Notifier:
    """Sends one notification to every configured target, concurrently."""

    def __init__(
        self,
        webhooks: Sequence[str] = (),
        smtp: SmtpTarget | None = None,
        policy: RetryPolicy = RetryPolicy(),
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.webhooks = list(webhooks)
        self.smtp = smtp
        self.policy = policy
        self._client = client
        self._own_client = client is None

    @classmethod
    def from_settings(cls, alerts: object, policy: RetryPolicy = RetryPolicy()) -> Notifier:
        """From ``HubSettings.alerts`` (webhooks, smtp_host/port/from/to)."""
        host = getattr(alerts, "smtp_host", None)
        to = tuple(getattr(alerts, "smtp_to", ()) or ())
        smtp = (
            SmtpTarget(host, int(getattr(alerts, "smtp_port", 25)), alerts.smtp_from, to)
            if host and to
            else None
        )
        return cls(list(getattr(alerts, "webhooks", ()) or ()), smtp, policy)

    @property
    def enabled(self) -> bool:
        return bool(self.webhooks or self.smtp)

    async def send(self, note: Notification) -> list[DeliveryResult]:
        jobs: list[Awaitable[DeliveryResult]] = []
        if self.webhooks:
            if self._client is None:
                self._client = httpx.AsyncClient()
            jobs += [post_webhook(self._client, url, note, self.policy) for url in self.webhooks]
        if self.smtp is not None:
            jobs.append(send_email(note, self.smtp, self.policy))
        return list(await asyncio.gather(*jobs))

    async def aclose(self) -> None:
        if self._client is not None and self._own_client:
            await self._client.aclose()
            self._client = None
