"""Sign in and out.

Passwords are argon2 hashes; the session is a random token in an HttpOnly cookie of which only a keyed hash is
stored (store/auth_repo.py). Failed logins are throttled per (name, address) with growing delays, and per
address across names only loosely (command_ui/throttle.py): a throttled pair gets 429 with ``Retry-After``
before its password is even checked, and the same person's right password from another address still works.
Every login, failure, throttle and logout is audited.

A session ends at logout, and also when the person's password, role or scope changes or they are retired
(migration 0028's trigger); their open live sockets close with 4401 (command_ui/routers/live.py).

A signed-in person may also keep the language they pick (``PUT /me/locale``): their own account only, audited
like any other configuration change, and kept apart from the site file's choice so a site reload keeps it.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from command_ui import throttle
from command_ui.deps import SESSION_COOKIE, ConnDep, CurrentUser, SettingsDep, client_address, session_key
from domain.audit import AuditRecord
from domain.titles import title_key, unit_level
from store import audit_repo
from store.auth_repo import account, create_session, end_session, set_chosen_locale, set_password_hash
from store.title_repo import scope_kinds

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
HASHER = PasswordHasher()
# Verified when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))
Locale = Literal["en", "zh-CN"]


class LoginIn(BaseModel):
    """Credentials."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: Annotated[str, Field(min_length=1, max_length=64, description="User id from the site file.")]
    password: Annotated[str, Field(min_length=1, max_length=256, description="Password.")]


class Me(BaseModel):
    """Who is signed in and what they may see."""

    model_config = ConfigDict(frozen=True)

    id: str
    role: str
    scope_path: str
    locale: Locale = Field(description="The person's language: the one they picked (PUT /me/locale), else "
                           "the site file's.")
    title_key: str | None = Field(default=None, description="Message key of what they are called: by role and "
                                  "the level they sit at (domain/titles.py), e.g. title.county.district_officer.")


class LocaleIn(BaseModel):
    """The language a person picks for their own pages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    locale: Annotated[Locale, Field(description="en or zh-CN.")]


def _verify(stored: str | None, password: str) -> bool:
    try:
        return HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


@router.post("/login")
def login(body: LoginIn, request: Request, response: Response, conn: ConnDep, settings: SettingsDep) -> Me:
    """Sign in; sets the session cookie."""
    now = datetime.now(UTC)
    client = client_address(request)
    waiting = throttle.check(conn, body.username, client, now, pair_limit=settings.login_attempts,
                             address_limit=settings.login_address_failures)
    if waiting is not None:
        raise throttle.refuse(conn, body.username, client, now, waiting, "login")
    found = account(conn, body.username)
    ok = _verify(found.password_hash if found else None, body.password) and found is not None and found.active
    if not ok or found is None:
        throttle.failed(conn, body.username, client, now, "login")
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="wrong name or password")
    throttle.succeeded(conn, body.username, client)
    if found.password_hash and HASHER.check_needs_rehash(found.password_hash):
        set_password_hash(conn, found.id, HASHER.hash(body.password))
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=settings.session_hours)
    with conn.transaction():
        create_session(conn, token, found.id, now, expires, client or None, key=session_key(settings))
        audit_repo.append(conn, AuditRecord(now, found.id, "auth.login", f"user:{found.id}", {"client": client}))
    secure = settings.secure_cookies
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_hours * 3600, httponly=True,
                        secure=secure, samesite="strict", path="/")
    return Me(id=found.id, role=found.role, scope_path=found.scope_path, locale=_locale(found.locale),
              title_key=_title(conn, found.id, found.role))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, response: Response, conn: ConnDep, settings: SettingsDep, user: CurrentUser) -> None:
    """Sign out: the session ends on the server, not only in the browser, and a live socket opened with it closes."""
    token = request.cookies.get(SESSION_COOKIE)
    with conn.transaction():
        if token:
            end_session(conn, token, key=session_key(settings))
        audit_repo.append(conn, AuditRecord(datetime.now(UTC), user.id, "auth.logout", f"user:{user.id}"))
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me")
def me(user: CurrentUser, conn: ConnDep) -> Me:
    """Who is signed in, and in which language their pages speak."""
    found = account(conn, user.id)  # the built-in admin has no account row: English
    return Me(id=user.id, role=user.role, scope_path=user.scope_path, locale=_locale(found.locale if found else "en"),
              title_key=_title(conn, user.id, user.role))


@router.put("/me/locale")
def set_my_locale(body: LocaleIn, user: CurrentUser, conn: ConnDep) -> Me:
    """Keep the caller's language for every device they sign in on; only ever their own account."""
    now = datetime.now(UTC)
    with conn.transaction():
        found = account(conn, user.id)
        if found is None:
            # The built-in admin exists only in settings: there is no row to keep a language on.
            raise HTTPException(status.HTTP_409_CONFLICT, detail="the built-in admin has no account to keep a "
                                "language on; its pages speak English")
        set_chosen_locale(conn, user.id, body.locale)
        audit_repo.append(conn, AuditRecord(now, user.id, "user.locale", f"user:{user.id}",
                                            {"from": found.locale, "to": body.locale}))
    return Me(id=user.id, role=user.role, scope_path=user.scope_path, locale=body.locale,
              title_key=_title(conn, user.id, user.role))


def _title(conn: psycopg.Connection, user_id: str, role: str) -> str:
    # The built-in admin has no unit: its role alone names it.
    return title_key(role, unit_level(scope_kinds(conn, [user_id]).get(user_id)))


def _locale(stored: str) -> Locale:
    # The column takes any text; the site file only these two. Anything else reads as English.
    return "zh-CN" if stored == "zh-CN" else "en"
