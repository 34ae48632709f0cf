"""The edge fallback page's message catalogue (Korean default, English). Looked up by ui.i18n.Translator."""

from __future__ import annotations

from ui.i18n import DURATION_NAMES, STATE_NAMES
from ui.seatmap import MESSAGES as SEATMAP_MESSAGES

MESSAGES: dict[str, dict[str, str]] = {
    **STATE_NAMES,
    **DURATION_NAMES,
    **SEATMAP_MESSAGES,
    "app.title": {"ko": "매장 좌석 현황 (로컬)", "en": "Store seats (local)"},
    "app.subtitle": {"ko": "본사 서버나 인터넷이 끊겨도 이 장비에서 바로 보여 줍니다.",
                     "en": "Served by this box; works with the hub and the internet unplugged."},
    "login.title": {"ko": "로그인", "en": "Log in"},
    "login.password": {"ko": "비밀번호", "en": "Password"},
    "login.submit": {"ko": "로그인", "en": "Log in"},
    "login.wrong": {"ko": "비밀번호가 틀렸습니다.", "en": "Wrong password."},
    "login.throttled": {"ko": "로그인 시도가 너무 많습니다. {seconds}초 후에 다시 시도하세요.",
                        "en": "Too many attempts. Try again in {seconds} s."},
    "login.not_set": {"ko": "로컬 비밀번호가 설정되지 않았습니다. `seat-edge install`로 설정하세요.",
                      "en": "No local password is set. Set one with `seat-edge install`."},
    "login.broken": {"ko": "설정의 비밀번호 해시가 올바르지 않습니다. `seat-edge install`로 다시 설정하세요.",
                     "en": "The configured password hash is broken. Set it again with `seat-edge install`."},
    "logout": {"ko": "로그아웃", "en": "Log out"},
    "seats.map": {"ko": "좌석 배치도", "en": "Seat map"},
    "seats.list": {"ko": "좌석 목록", "en": "Seats"},
    "seats.none": {"ko": "설정된 좌석이 없습니다.", "en": "No seats are configured."},
    "seats.channel": {"ko": "채널 {channel}", "en": "Channel {channel}"},
    "col.seat": {"ko": "좌석", "en": "Seat"},
    "col.channel": {"ko": "채널", "en": "Channel"},
    "col.state": {"ko": "상태", "en": "State"},
    "col.since": {"ko": "지속 시간", "en": "For"},
    "updated": {"ko": "갱신 시각", "en": "Updated"},
    "config_version": {"ko": "설정 버전", "en": "Config version"},
    "events.title": {"ko": "최근 변화", "en": "Recent changes"},
    "events.none": {"ko": "아직 기록된 변화가 없습니다.", "en": "No changes recorded yet."},
    "lang.other": {"ko": "English", "en": "한국어"},
    "error.not_found": {"ko": "페이지를 찾을 수 없습니다.", "en": "Page not found."},
}
