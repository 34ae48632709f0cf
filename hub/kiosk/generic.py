"""The generic seat-system adapter: any kiosk vendor can feed the hub without code of ours.

Two ways in (documented for vendors in docs/kiosk.md):

- **Seat list import** (JSON or CSV), e.g. ``seat-hub store import-seats STORE --file seats.csv``.
  JSON: ``{"seats": [{"id": "A-1", "section": "A", "row": 1, "col": 1, "label": "1",
  "product": "daily", "state": "in_use", "remaining_min": 90, "walls": ["top", "left"]}]}``.
  CSV: a header line with the same names (``walls`` space-separated). Only ``id`` is required;
  ``section`` defaults to "A", ``row``/``col`` to the seat's place in the list.
- **Signed webhook**: ``POST /api/v1/stores/{store}/kiosk/webhook`` with the same JSON body (the
  states of the seats listed; layout fields are ignored there), headers ``X-Seat-Timestamp`` (UNIX
  seconds) and ``X-Seat-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``.
  Refused: a wrong signature, a timestamp more than ``WEBHOOK_SKEW_S`` away from the hub's clock,
  and a signature already used (replay).

Fields not listed above (names, phone numbers, member ids) are ignored and never stored.
Everything here is pure; the webhook's route and its replay memory live in :mod:`hub.web.kiosk`.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import math
from typing import Any

import msgspec

from hub.kiosk.model import KIOSK_STATES, PRODUCTS, WALL_BITS, KioskError, KioskSeat, KioskSnapshot

WEBHOOK_SKEW_S = 300.0
MAX_SEATS = 2000
FIELDS = ("id", "section", "row", "col", "label", "product", "state", "remaining_min", "walls")


def _seat(i: int, d: dict[str, Any]) -> KioskSeat:
    sid = d.get("id")
    if sid is None or str(sid).strip() == "":
        raise ValueError("no id")
    sid = str(sid).strip()
    if len(sid) > 60 or any(ord(ch) < 32 for ch in sid):
        raise ValueError(f"id {sid[:60]!r} is too long or has control characters")

    def num(name: str, default: int) -> int:
        v = d.get(name)
        if v is None or v == "":
            return default
        try:
            n = int(str(v).strip()) if not isinstance(v, int | float) or isinstance(v, bool) else int(v)
        except ValueError:
            raise ValueError(f"{name} is {v!r}, not a whole number") from None
        if not 0 <= n < 1000:
            raise ValueError(f"{name} {n} is outside 0..999")
        return n

    state = str(d.get("state") or "free").strip()
    if state not in KIOSK_STATES:
        raise ValueError(f"state {state!r} is not one of {', '.join(KIOSK_STATES)}")
    product = str(d.get("product") or "").strip()
    if product not in PRODUCTS:
        raise ValueError(f"product {product!r} is not one of fixed, prepaid, daily (or empty)")
    rem = d.get("remaining_min")
    remaining: int | None = None
    if rem is not None and rem != "":
        try:
            r = float(rem)
        except (TypeError, ValueError):
            raise ValueError(f"remaining_min is {rem!r}, not a number") from None
        if not math.isfinite(r) or r < 0 or r > 366 * 24 * 60:
            raise ValueError(f"remaining_min {rem!r} is not a duration")
        remaining = int(r * 60)
    walls_in = d.get("walls") or []
    if isinstance(walls_in, str):
        walls_in = walls_in.replace(",", " ").split()
    if not isinstance(walls_in, list) or any(w not in WALL_BITS for w in walls_in):
        raise ValueError(f"walls {walls_in!r}: use top, bottom, left, right")
    return KioskSeat(
        kiosk_seat_id=sid, section=str(d.get("section") or "A").strip()[:40] or "A",
        row=num("row", 1), col=num("col", i + 1), label=str(d.get("label") or sid).strip()[:60],
        product=product, state=state, remaining_s=remaining,
        walls=sum(WALL_BITS[w] for w in walls_in),
    )


def _collect(rows: list[Any]) -> KioskSnapshot:
    if len(rows) > MAX_SEATS:
        raise KioskError(f"{len(rows)} seats: at most {MAX_SEATS} per store")
    seats: dict[str, KioskSeat] = {}
    problems: list[str] = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.append(f"seat {i + 1}: not an object")
            continue
        try:
            s = _seat(i, row)
        except ValueError as exc:
            problems.append(f"seat {i + 1}: {exc}")
            continue
        if s.kiosk_seat_id in seats:
            problems.append(f"seat {i + 1}: id {s.kiosk_seat_id} listed twice (the first is kept)")
            continue
        seats[s.kiosk_seat_id] = s
    return KioskSnapshot(seats=list(seats.values()), problems=problems)


def parse_json(body: bytes) -> KioskSnapshot:
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise KioskError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("seats"), list):
        raise KioskError('expected a JSON object {"seats": [...]} (see docs/kiosk.md)')
    return _collect(data["seats"])


def parse_csv(text: str) -> KioskSnapshot:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))  # Excel writes a BOM
    if not reader.fieldnames or "id" not in [f.strip() for f in reader.fieldnames]:
        raise KioskError(f"the CSV's first line must name the columns, at least 'id' (known: {', '.join(FIELDS)})")
    rows = [{(k or "").strip(): (v or "").strip() for k, v in r.items() if k in FIELDS or (k or "").strip() in FIELDS}
            for r in reader]
    return _collect(rows)


def parse_file(name: str, data: bytes) -> KioskSnapshot:
    """By the file's name: ``.csv`` is CSV (UTF-8), anything else JSON."""
    if name.lower().endswith(".csv"):
        try:
            return parse_csv(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise KioskError("the CSV is not UTF-8 text (save it as 'CSV UTF-8')") from None
    return parse_json(data)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature a vendor sends (and the hub recomputes)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookRefused(Exception):
    """Why a webhook call is refused; ``status`` is the HTTP answer (401 bad signature or time,
    409 replay)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float,
           skew_s: float = WEBHOOK_SKEW_S) -> float:
    """Check a webhook call's timestamp and signature; returns the timestamp. The replay check
    (a signature seen before) is the caller's, with its database."""
    if not secret:
        raise WebhookRefused(401, "this store has no webhook secret configured")
    if not timestamp or not signature:
        raise WebhookRefused(401, "X-Seat-Timestamp and X-Seat-Signature headers are required")
    try:
        ts = float(timestamp)
    except ValueError:
        raise WebhookRefused(401, "X-Seat-Timestamp must be UNIX seconds") from None
    if not math.isfinite(ts) or abs(now - ts) > skew_s:
        raise WebhookRefused(401, f"X-Seat-Timestamp is more than {skew_s:g} s away from the hub's clock "
                                  "(check the sender's clock)")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        raise WebhookRefused(401, "wrong signature (HMAC-SHA256 of timestamp + '.' + body with the store's secret)")
    return ts


def replay_key(signature: str) -> str:
    return hashlib.sha256(signature.strip().encode()).hexdigest()
