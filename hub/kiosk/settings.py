"""Per-store kiosk settings in hub.toml, one table per store, the adapter chosen by ``type``:

    [kiosk.oryudong]
    type = "gosca"                      # or "generic" (JSON/CSV import + signed webhook)
    base_url = "https://gosca.example"  # GoSca only
    store_code = "Anding-Oryudongyeok-sca"
    interval_s = 30                     # poll every 30 s (plus jitter)
    timeout_s = 5                       # one poll may take this long, then it counts as failed
    [kiosk.oryudong.rules]
    hogging_min = 30                    # sold + in use, camera empty/away longer: 자리 맡기 / no-show
    unpaid_min = 10                     # occupied on camera, not sold, longer: 무단 이용
    checkout_items_min = 5              # checked out, belongings still on the desk after this

A store without a table has no kiosk; its floor plan can still be placed by hand.
"""

from __future__ import annotations

import msgspec


class KioskRules(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    hogging_min: float = 30.0
    unpaid_min: float = 10.0
    checkout_items_min: float = 5.0


class GoScaSettings(msgspec.Struct, tag_field="type", tag="gosca", forbid_unknown_fields=True, frozen=True):
    base_url: str
    store_code: str  # GoSca's ``pstore``, e.g. "Anding-Oryudongyeok-sca"
    interval_s: float = 30.0
    timeout_s: float = 5.0
    max_backoff_s: float = 600.0  # failures back off exponentially (with jitter) up to this
    rules: KioskRules = KioskRules()


class GenericSettings(msgspec.Struct, tag_field="type", tag="generic", forbid_unknown_fields=True, frozen=True):
    secret: str = ""  # HMAC key of the webhook; empty: the webhook refuses every call
    seat_file: str = ""  # JSON or CSV seat list for `import-seats` without --file
    # The vendor sends the full state at least this often; silence longer makes the kiosk state unknown.
    stale_s: float = 900.0
    rules: KioskRules = KioskRules()


KioskStoreSettings = GoScaSettings | GenericSettings


def problems(kiosk: dict[str, KioskStoreSettings]) -> list[str]:
    """What is wrong in the ``[kiosk.*]`` tables, each with its key."""
    from protocol import TopicError, validate_id

    out = []
    for store, s in kiosk.items():
        k = f"kiosk.{store}"
        try:
            validate_id(store, "store id")
        except TopicError as exc:
            out.append(f"{k}: {exc}")
        if isinstance(s, GoScaSettings):
            if not s.base_url.startswith(("http://", "https://")):
                out.append(f"{k}.base_url must start with http:// or https:// (got {s.base_url!r})")
            if not s.store_code:
                out.append(f"{k}.store_code is empty (GoSca's pstore, e.g. Anding-Oryudongyeok-sca)")
            if not 1.0 <= s.interval_s <= 3600:
                out.append(f"{k}.interval_s must be 1..3600 (got {s.interval_s})")
            if not 0 < s.timeout_s <= s.interval_s:
                out.append(f"{k}.timeout_s must be > 0 and at most interval_s (got {s.timeout_s})")
            if s.max_backoff_s < s.interval_s:
                out.append(f"{k}.max_backoff_s must be >= interval_s")
        elif s.stale_s <= 0:
            out.append(f"{k}.stale_s must be > 0")
        r = s.rules
        for name in ("hogging_min", "unpaid_min", "checkout_items_min"):
            if not 0 < getattr(r, name) <= 24 * 60:
                out.append(f"{k}.rules.{name} must be > 0 and at most a day (got {getattr(r, name)})")
    return out
