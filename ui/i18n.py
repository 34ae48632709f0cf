"""Tiny message catalogue: Korean by default, English available.

Each tier keeps its own catalogue module (``ui/messages_edge.py``, ``ui/messages_hub.py``),
a dict ``{key: {"ko": ..., "en": ...}}``; this module only looks things up, so the two
tiers never edit the same file.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGS = ("ko", "en")
DEFAULT_LANG = "ko"


def pick_lang(query: str | None = None, cookie: str | None = None, accept: str | None = None) -> str:
    """?lang= wins, then the cookie; Korean otherwise (the product's users are Korean staff)."""
    for cand in (query, cookie):
        if cand in LANGS:
            return cand
    return DEFAULT_LANG


class Translator:
    def __init__(self, catalog: Mapping[str, Mapping[str, str]], lang: str = DEFAULT_LANG) -> None:
        self.catalog = catalog
        self.lang = lang if lang in LANGS else DEFAULT_LANG

    def __call__(self, key: str, **kwargs: object) -> str:
        entry = self.catalog.get(key)
        if entry is None:
            return key  # visible in the page, so a missing key is noticed, never a crash
        text = entry.get(self.lang) or entry.get("en") or key
        return text.format(**kwargs) if kwargs else text


STATE_NAMES: dict[str, dict[str, str]] = {
    "state.empty": {"ko": "빈 좌석", "en": "Empty"},
    "state.occupied": {"ko": "사용 중", "en": "Occupied"},
    "state.away": {"ko": "자리 비움", "en": "Away"},
    "state.abandoned": {"ko": "장기 방치", "en": "Abandoned"},
    "state.unknown": {"ko": "알 수 없음", "en": "Unknown"},
}


DURATION_NAMES: dict[str, dict[str, str]] = {
    "dur.sec": {"ko": "{s}초", "en": "{s} s"},
    "dur.min": {"ko": "{m}분", "en": "{m} min"},
    "dur.hour": {"ko": "{h}시간 {m}분", "en": "{h} h {m} min"},
    "dur.day": {"ko": "{d}일 {h}시간", "en": "{d} d {h} h"},
    "dur.none": {"ko": "-", "en": "-"},
}


def format_duration(seconds: float | None, t: Translator, unknown: str = "") -> str:
    """How long, the way staff read it: '3시간 5분' / '3 h 5 min'; ``unknown`` when not known.
    The pages' scripts format the same keys (``dur.*``) while the clock ticks."""
    if seconds is None:
        return unknown
    s = int(max(0, seconds))
    if s < 60:
        return t("dur.sec", s=s)
    if s < 3600:
        return t("dur.min", m=s // 60)
    if s < 86400:
        return t("dur.hour", h=s // 3600, m=(s % 3600) // 60)
    return t("dur.day", d=s // 86400, h=(s % 86400) // 3600)
