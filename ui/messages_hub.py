"""The hub dashboard's message catalogue (Korean default, English). Looked up by ui.i18n.Translator."""

from __future__ import annotations

from ui.i18n import DURATION_NAMES, STATE_NAMES

MESSAGES: dict[str, dict[str, str]] = {
    **STATE_NAMES,
    **DURATION_NAMES,
    "app.title": {"ko": "좌석 현황", "en": "Seat monitor"},
    "stores.title": {"ko": "매장 목록", "en": "Stores"},
    "stores.none": {"ko": "아직 연결된 매장이 없습니다.", "en": "No store has connected yet."},
    "col.store": {"ko": "매장", "en": "Store"},
    "col.seats": {"ko": "좌석 수", "en": "Seats"},
    "col.edges": {"ko": "장비 (온라인/오프라인)", "en": "Edges (online/offline)"},
    "col.seat": {"ko": "좌석", "en": "Seat"},
    "col.channel": {"ko": "채널", "en": "Channel"},
    "col.state": {"ko": "상태", "en": "State"},
    "col.duration": {"ko": "지속 시간", "en": "For"},
    "store.seat_list": {"ko": "좌석 목록", "en": "Seats"},
    "store.alerts": {"ko": "알림", "en": "Alerts"},
    "store.stats_link": {"ko": "통계 보기", "en": "Statistics"},
    "alerts.none": {"ko": "열린 알림이 없습니다.", "en": "No open alerts."},
    "priority.critical": {"ko": "긴급", "en": "Critical"},
    "priority.high": {"ko": "높음", "en": "High"},
    "priority.low": {"ko": "낮음", "en": "Low"},
    "store.seat_map": {"ko": "좌석 배치도", "en": "Seat map"},
    "store.edges": {"ko": "장비", "en": "Edges"},
    "store.back": {"ko": "← 매장 목록", "en": "← All stores"},
    "store.no_seats": {"ko": "등록된 좌석이 없습니다.", "en": "No seats yet."},
    "edge.online": {"ko": "온라인", "en": "online"},
    "edge.offline": {"ko": "오프라인", "en": "offline"},
    "live.connected": {"ko": "실시간 연결됨", "en": "Live"},
    "live.disconnected": {"ko": "실시간 연결 끊김 (재연결 중)", "en": "Live updates lost (reconnecting)"},
    "channel.label": {"ko": "채널 {n}", "en": "Channel {n}"},
    "lang.switch": {"ko": "English", "en": "한국어"},
}
