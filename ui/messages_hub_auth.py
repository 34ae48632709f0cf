"""Hub catalogue entries of the login page, access errors and config push status (merged into ui.messages_hub.MESSAGES)."""

from __future__ import annotations

AUTH_MESSAGES: dict[str, dict[str, str]] = {
    "login.title": {"ko": "로그인", "en": "Log in"},
    "login.username": {"ko": "사용자 이름", "en": "Username"},
    "login.password": {"ko": "비밀번호", "en": "Password"},
    "login.submit": {"ko": "로그인", "en": "Log in"},
    "login.failed": {"ko": "사용자 이름 또는 비밀번호가 올바르지 않습니다.", "en": "Wrong username or password."},
    "login.blocked": {
        "ko": "이 주소에서 로그인 실패가 너무 많습니다. {s}초 후에 다시 시도하세요.",
        "en": "Too many failed logins from this address. Try again in {s} seconds.",
    },
    "login.csrf": {
        "ko": "로그인 양식이 만료되었습니다. 다시 시도하세요.",
        "en": "The login form expired. Please try again.",
    },
    "logout.submit": {"ko": "로그아웃", "en": "Log out"},
    "user.signed_in_as": {"ko": "{u} ({r})", "en": "{u} ({r})"},
    "role.admin": {"ko": "관리자", "en": "admin"},
    "role.hq_viewer": {"ko": "본사 조회", "en": "HQ viewer"},
    "role.staff": {"ko": "매장 직원", "en": "store staff"},
    "config.status.pending": {"ko": "설정 v{v} 적용 대기 중", "en": "config v{v} pending"},
    "config.status.applied": {"ko": "설정 v{v} 적용됨", "en": "config v{v} applied"},
    "config.status.failed": {"ko": "설정 v{v} 적용 실패", "en": "config v{v} failed"},
}
