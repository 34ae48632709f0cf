"""Security headers on every hub response (the edge page sends the same set).

- ``Content-Security-Policy``: scripts only from the hub itself (the pages carry data as
  ``<script type="application/json">``, never inline code), no framing, no plugins, forms and
  WebSockets only to the hub. Inline *styles* stay allowed: one server-rendered bar width and
  the chart library's tooltip set them, and a style cannot run code.
- ``X-Frame-Options: DENY`` (clickjacking, for browsers without ``frame-ancestors``),
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``.
- ``Cache-Control: no-store`` on everything but ``/static/`` (pages and API answers carry one
  user's stores; a shared computer's back button or a proxy must not show them to the next one).

``/schema`` (the OpenAPI viewer, which loads its scripts from a CDN) gets everything but the CSP.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")
COMMON = (("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"),
          ("Referrer-Policy", "same-origin"))


async def security_headers(message: Message, scope: Scope) -> None:
    """Litestar ``before_send`` hook: adds the headers to each HTTP response start."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    path = scope.get("path", "")
    for k, v in COMMON:
        headers[k] = v
    if not path.startswith("/schema"):
        headers["Content-Security-Policy"] = CSP
    if not path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"
