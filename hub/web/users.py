"""The users page (admins: add, role and stores, disable / enable, reset a password) and the own
password page (every user). The same rules, guard and audit as `seat-hub user ...`: the forms call
``hub.auth.users``; the app-wide guard checks the role (``ADMIN`` / ``ANY_USER``) and the
session's CSRF token on every POST. Forms work without JavaScript."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth import users as auth
from hub.auth.guard import ADMIN, ANY_USER, principal
from hub.auth.users import AuthError
from hub.stores import queries
from hub.web.common import page_context, translator, visible_stores

ROLES = ("staff", "hq_viewer", "admin")  # a new account starts with the least rights


def _stores(form, role: str) -> list[str]:
    """The ticked stores count for store staff only (admins and HQ viewers see every store): a
    switch to HQ viewer with the old boxes still ticked is what the admin meant, not an error."""
    return list(form.getall("stores", [])) if role == "staff" else []


async def _users_page(request: Request, db: AsyncSession, *, done: str = "", error: str = "",
                      status: int = 200, form: dict[str, Any] | None = None) -> Template:
    t, cookies = translator(request)
    stores = await queries.list_stores(db)
    users = await auth.list_users(db)
    return Template(
        template_name="hub/users.html",
        context=page_context(request, t, visible_stores(request, stores), users=users, all_stores=stores,
                             roles=ROLES, done=done, error=error, form=form or {},
                             me=principal(request).username),
        cookies=cookies, status_code=status,
    )


@get("/users", opt=ADMIN, include_in_schema=False)
async def users_page(request: Request, db: NamedDependency[AsyncSession], done: FromQuery[str] = "",
                     u: FromQuery[str] = "") -> Template:
    t, _ = translator(request)
    key = f"users.done.{done}"
    return await _users_page(request, db, done=t(key, u=u) if done in ("add", "role", "disable", "enable",
                                                                        "password") else "")


def _back(done: str, username: str) -> Redirect:
    # Post/redirect/get: a reload does not send the form again.
    return Redirect("/users?" + urlencode({"done": done, "u": username}), status_code=303)


async def _act(request: Request, db: AsyncSession, done: str, username: str, action) -> Template | Redirect:
    t, _ = translator(request)
    try:
        await action()
        await db.commit()
    except AuthError as exc:
        await db.rollback()
        form = dict(await request.form())
        form.pop("password", None)
        form.pop("csrf_token", None)
        return await _users_page(request, db, error=t("users.error", e=str(exc)), status=400, form=form)
    return _back(done, username)


@post("/users/add", opt=ADMIN, include_in_schema=False)
async def users_add(request: Request, db: NamedDependency[AsyncSession]) -> Template | Redirect:
    form = await request.form()
    username = str(form.get("username", "")).strip()
    actor = principal(request).username
    return await _act(request, db, "add", username, lambda: auth.add_user(
        db, username, str(form.get("password", "")), str(form.get("role", "")),
        _stores(form, str(form.get("role", ""))), actor=actor))


@post("/users/{username:str}/role", opt=ADMIN, include_in_schema=False)
async def users_role(request: Request, db: NamedDependency[AsyncSession], username: FromPath[str]) -> Template | Redirect:
    form = await request.form()
    actor = principal(request).username
    return await _act(request, db, "role", username, lambda: auth.set_role(
        db, username, str(form.get("role", "")), _stores(form, str(form.get("role", ""))), actor=actor))


@post("/users/{username:str}/disable", opt=ADMIN, include_in_schema=False)
async def users_disable(request: Request, db: NamedDependency[AsyncSession], username: FromPath[str]) -> Template | Redirect:
    me = principal(request).username
    if username == me:  # an admin locking themselves out leaves nobody to undo it
        t, _ = translator(request)
        return await _users_page(request, db, error=t("users.not_self"), status=400)
    return await _act(request, db, "disable", username, lambda: auth.set_disabled(db, username, True, actor=me))


@post("/users/{username:str}/enable", opt=ADMIN, include_in_schema=False)
async def users_enable(request: Request, db: NamedDependency[AsyncSession], username: FromPath[str]) -> Template | Redirect:
    me = principal(request).username
    return await _act(request, db, "enable", username, lambda: auth.set_disabled(db, username, False, actor=me))


@post("/users/{username:str}/password", opt=ADMIN, include_in_schema=False)
async def users_password(request: Request, db: NamedDependency[AsyncSession], username: FromPath[str]) -> Template | Redirect:
    form = await request.form()
    me = principal(request).username
    return await _act(request, db, "password", username, lambda: auth.set_password(
        db, username, str(form.get("password", "")), actor=me))


# -- own password ----------------------------------------------------------------------------


async def _account_page(request: Request, db: AsyncSession, *, done: str = "", error: str = "",
                        status: int = 200) -> Template:
    t, cookies = translator(request)
    stores = visible_stores(request, await queries.list_stores(db))
    return Template(template_name="hub/account.html",
                    context=page_context(request, t, stores, done=done, error=error),
                    cookies=cookies, status_code=status)


@get("/account/password", opt=ANY_USER, include_in_schema=False)
async def account_page(request: Request, db: NamedDependency[AsyncSession]) -> Template:
    return await _account_page(request, db)


@post("/account/password", opt=ANY_USER, include_in_schema=False)
async def account_password(request: Request, db: NamedDependency[AsyncSession]) -> Template:
    t, _ = translator(request)
    form = await request.form()
    me = principal(request).username
    user = await auth.get_user(db, me)
    current, new, again = (str(form.get(k, "")) for k in ("current", "new", "again"))
    if not auth.verify_password(user.password_hash, current):
        await auth.audit(db, "user_password_failed", me, auth.client_addr(request), detail="wrong current password")
        await db.commit()
        return await _account_page(request, db, error=t("account.wrong"), status=400)
    if new != again:
        return await _account_page(request, db, error=t("account.mismatch"), status=400)
    try:
        await auth.set_password(db, me, new, actor=me)  # ends every session of the user, this one too
        await db.commit()
    except AuthError as exc:
        await db.rollback()
        return await _account_page(request, db, error=t("users.error", e=str(exc)), status=400)
    return await _account_page(request, db, done=t("account.done"))


handlers = [users_page, users_add, users_role, users_disable, users_enable, users_password, account_page,
            account_password]
