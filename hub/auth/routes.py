"""Login form, logout and ``/api/v1/me`` (who am I, and the CSRF token for scripts)."""

from __future__ import annotations

import hmac
import math
import secrets
from typing import Annotated
from urllib.parse import urlsplit

import msgspec
from litestar import Request, get, post
from litestar.datastructures import Cookie, State
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromQuery, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy import select

from hub.auth import users as auth
from hub.auth.guard import ADMIN, ANY_USER, PUBLIC, principal
from hub.db.models import AuditEntry, User
from ui.i18n import Translator, pick_lang
from ui.messages_hub import MESSAGES


class Me(msgspec.Struct):
    username: str
    role: str
    store_ids: list[str] | None  # None: every store
    csrf_token: str


def _safe_next(value: str | None) -> str:
    """Only a path on this hub (no open redirect to another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    return "/" if parts.scheme or parts.netloc else value


def _secure(request: Request) -> bool:
    """Cookies are ``Secure`` when the setting says so or the request came over HTTPS: directly, or
    through a proxy listed in ``http.trusted_proxies`` that says so in ``X-Forwarded-Proto``
    (uvicorn applies that header only from those addresses)."""
    return request.app.state.settings.auth.cookie_secure or request.url.scheme in ("https", "wss")


def _session_cookie(request: Request, token: str, max_age: int) -> Cookie:
    return Cookie(key=auth.SESSION_COOKIE, value=token, max_age=max_age, httponly=True, samesite="lax",
                  secure=_secure(request), path="/")


def _form(request: Request, t: Translator, *, error: str = "", username: str = "", next_: str = "/",
          status: int = 200) -> Template:
    token = secrets.token_urlsafe(24)  # a fresh one per form: double-submit with the cookie
    return Template(
        template_name="hub/login.html",
        context={"t": t, "lang": t.lang, "error": error, "username": username, "next_": next_, "csrf_token": token},
        cookies=[Cookie(key=auth.LOGIN_CSRF_COOKIE, value=token, max_age=3600, httponly=True, samesite="strict",
                        secure=_secure(request), path="/login")],
        status_code=status,
    )


def _t(request: Request) -> Translator:
    return Translator(MESSAGES, pick_lang(request.query_params.get("lang"), request.cookies.get("lang")))


@get("/login", opt=PUBLIC, include_in_schema=False)
async def login_page(request: Request) -> Template | Redirect:
    target = _safe_next(request.query_params.get("next"))
    if principal(request) is not None:
        return Redirect(target, status_code=303)
    return _form(request, _t(request), next_=target)


@post("/login", opt=PUBLIC, include_in_schema=False)
async def login_submit(request: Request, state: State) -> Template | Redirect:
    t = _t(request)
    form = await request.form()
    # NUL cannot be stored or compared in PostgreSQL text: drop it (no username contains one)
    username = str(form.get("username") or "").replace("\x00", "").strip().lower()[:63]
    password = str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or ""))
    sent, expected = str(form.get(auth.CSRF_FIELD) or ""), request.cookies.get(auth.LOGIN_CSRF_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        return _form(request, t, error=t("login.csrf"), username=username, next_=target, status=403)
    addr = auth.client_addr(request)
    cfg = state.settings.auth
    async with state.sessionmaker() as db:
        wait = await auth.login_wait(db, username, addr, cfg)
        if wait > 0:
            await auth.audit(db, "login_blocked", username, addr)
            await db.commit()
            page = _form(request, t, error=t("login.blocked", s=math.ceil(wait)), username=username,
                         next_=target, status=429)
            page.headers["Retry-After"] = str(math.ceil(wait))
            return page
        user = (await db.execute(select(User).where(User.username == username))).scalar_one_or_none()
        if user is None or user.disabled:
            auth.burn_verify(password)
            ok = False
        else:
            ok = auth.verify_password(user.password_hash, password)
        if not ok:
            await auth.audit(db, "login_failed", username, addr)
            await db.commit()
            return _form(request, t, error=t("login.failed"), username=username, next_=target, status=401)
        old = request.cookies.get(auth.SESSION_COOKIE)
        if old:  # whatever session cookie the browser brought is never reused (no fixation)
            await auth.end_session(db, old)
        token = await auth.create_session(db, user, addr, cfg)
        await auth.audit(db, "login", username, addr)
        await db.commit()
    max_age = int(cfg.session_hours * 3600)
    return Redirect(target, status_code=303, cookies=[
        _session_cookie(request, token, max_age),
        Cookie(key=auth.LOGIN_CSRF_COOKIE, value="", max_age=0, path="/login"),
    ])


@post("/logout", opt=ANY_USER, include_in_schema=False)
async def logout(request: Request, state: State) -> Redirect:
    user = principal(request)
    token = request.cookies.get(auth.SESSION_COOKIE, "")
    async with state.sessionmaker() as db:
        await auth.end_session(db, token)
        await auth.audit(db, "logout", user.username if user else "", auth.client_addr(request))
        await db.commit()
    if token:
        state.ws_sessions.end(token)  # its open live sockets re-check now, find no session, close
    return Redirect("/login", status_code=303, cookies=[_session_cookie(request, "", 0)])


@get("/api/v1/me", tags=["auth"])
async def me(request: Request) -> Me:
    """The logged-in user, its stores, and the CSRF token to send as ``X-CSRF-Token`` with every
    PUT/POST/DELETE."""
    user = principal(request)
    if user is None:  # the guard already refused; kept for type narrowing
        raise NotAuthorizedException("log in first")
    return Me(user.username, user.role, None if user.all_stores else sorted(user.store_ids), user.csrf_token)


class AuditOut(msgspec.Struct):
    id: int
    at: float
    kind: str
    username: str
    addr: str
    store_id: str | None
    detail: str


@get("/api/v1/audit", opt=ADMIN, tags=["auth"])
async def audit_log(
    state: State,
    kind: FromQuery[str | None] = None,
    username: FromQuery[str | None] = None,
    store_id: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
) -> list[AuditOut]:
    """The audit log, newest first (admins): logins, failed logins, user changes, config pushes,
    snapshot requests and views."""
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    for col, value in ((AuditEntry.kind, kind), (AuditEntry.username, username), (AuditEntry.store_id, store_id)):
        if value is not None:
            q = q.where(col == value)
    async with state.sessionmaker() as db:
        rows = (await db.execute(q)).scalars().all()
    return [AuditOut(r.id, r.at, r.kind, r.username, r.addr, r.store_id, r.detail) for r in rows]


routes = [login_page, login_submit, logout, me, audit_log]
