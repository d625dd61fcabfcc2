"""Request dependencies: settings, a pooled database connection, and the authenticated, scoped caller.

A caller is a person with a session cookie (``campusguard_session``, set by ``POST /api/v1/auth/login``), or
the built-in ``admin`` over HTTP Basic with the required admin secret, for scripts and first setup. Every
route but ``/health`` and the login itself depends on :data:`CurrentUser`, and what it returns carries the
organisation path the caller may see: a guard's is their school's, a district officer's their district's (or
county's, or township's), a head teacher's their class's (which holds the class's roster and nothing else).

HTTP Basic is throttled and audited like the sign-in form (command_ui/throttle.py): failures per (name,
address), each audited. Its successes are audited too, but only the first from an address in
:data:`BASIC_AUDIT_EVERY`: a script polling every second would otherwise write 3,600 records an hour, each
taking the audit chain's lock, to say the same thing.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPBasic, HTTPBasicCredentials
from psycopg_pool import ConnectionPool

from command_ui import throttle
from command_ui.config import WebProcess
from domain.audit import AuditRecord
from domain.scope import within
from store import audit_repo
from store.auth_repo import attempted_since, record_attempt, session_account

SESSION_COOKIE = "campusguard_session"
BASIC_AUDIT_EVERY = timedelta(hours=1)
_basic = HTTPBasic(realm="campusguard", auto_error=False)
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False)

# What each role may do beyond reading its own scope.
ACT_ON_INCIDENTS = frozenset({"guard", "school_admin", "district_officer", "district_admin", "admin"})
EDIT_GEOFENCES = frozenset({"school_admin", "district_admin", "admin"})
READ_AUDIT = frozenset({"auditor", "district_admin", "admin"})
# Who may see camera snapshots with faces unblurred (to identify someone); everyone else sees them blurred.
SEE_FACES = frozenset({"school_admin", "district_officer", "district_admin", "admin"})


@dataclass(frozen=True, slots=True)
class User:
    """The authenticated caller and the organisation path they may see."""

    id: str
    role: str
    scope_path: str

    def sees(self, path: str) -> bool:
        """Tell whether an organisation path lies inside the caller's scope."""
        return within(path, self.scope_path)


def get_settings(request: Request) -> WebProcess:
    """Return the settings the app was built with."""
    settings: WebProcess = request.app.state.settings
    return settings


def get_conn(request: Request) -> Iterator[psycopg.Connection]:
    """Lend a pooled connection for the duration of the request."""
    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn:
        yield conn


SettingsDep = Annotated[WebProcess, Depends(get_settings)]
ConnDep = Annotated[psycopg.Connection, Depends(get_conn)]


def session_key(settings: WebProcess) -> bytes:
    """Return the key session tokens are hashed under (settings refuse to start without one)."""
    if settings.secret_key is None:
        raise RuntimeError("no secret key: the settings should have refused to start")
    return settings.secret_key.get_secret_value().encode()


def client_address(request: Request) -> str:
    """Return the caller's address as the server trusts it (a configured proxy's X-Forwarded-For); '' if unknown."""
    return request.client.host if request.client else ""


def _unauthorised(basic: bool) -> HTTPException:
    # The Basic challenge only for callers that tried Basic: to a browser it would pop up a login dialog
    # over the page's own sign-in.
    headers = {"WWW-Authenticate": 'Basic realm="campusguard"'} if basic else None
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail="sign in first", headers=headers)


def get_current_user(
    request: Request, settings: SettingsDep, conn: ConnDep,
    token: Annotated[str | None, Depends(_cookie)],
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> User:
    """Authenticate the caller by session cookie or, for the built-in admin, HTTP Basic."""
    if token:
        found = session_account(conn, token, datetime.now(UTC), key=session_key(settings))
        if found is None:
            raise _unauthorised(basic=False)
        return User(found.id, found.role, found.scope_path)
    if credentials is not None:
        return _basic_admin(conn, settings, credentials, client_address(request))
    raise _unauthorised(basic=False)


def _basic_admin(conn: psycopg.Connection, settings: WebProcess, credentials: HTTPBasicCredentials,
                 client: str) -> User:
    now = datetime.now(UTC)
    name = credentials.username[:64]
    waiting = throttle.check(conn, name, client, now, pair_limit=settings.login_attempts,
                             address_limit=settings.login_address_failures)
    if waiting is not None:
        raise throttle.refuse(conn, name, client, now, waiting, "basic")
    expected = settings.admin_password.get_secret_value() if settings.admin_password else ""
    # Constant-time comparisons: timing must not tell which half was wrong.
    user_ok = secrets.compare_digest(credentials.username.encode(), b"admin")
    password_ok = bool(expected) and secrets.compare_digest(credentials.password.encode(), expected.encode())
    if not (user_ok and password_ok):
        throttle.failed(conn, name, client, now, "basic")
        raise _unauthorised(basic=True)
    throttle.succeeded(conn, name, client)
    with conn.transaction():
        if not attempted_since(conn, "basic_ok", client, now - BASIC_AUDIT_EVERY):
            record_attempt(conn, name, client, now, "basic_ok")
            audit_repo.append(conn, AuditRecord(now, "admin", "auth.basic", "user:admin", {
                "client": client, "audited_once_per_s": int(BASIC_AUDIT_EVERY.total_seconds())}))
    return User(id="admin", role="admin", scope_path="/")


CurrentUser = Annotated[User, Depends(get_current_user)]


def require(roles: frozenset[str], what: str) -> Callable[[User], User]:
    """Build a dependency that lets only ``roles`` through, with a 403 that says what was refused."""
    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"a {user.role} may not {what}")
        return user
    return check


IncidentActor = Annotated[User, Depends(require(ACT_ON_INCIDENTS, "act on incidents"))]
GeofenceEditor = Annotated[User, Depends(require(EDIT_GEOFENCES, "edit geofences"))]
AuditReader = Annotated[User, Depends(require(READ_AUDIT, "read the audit trail"))]
