"""Request dependencies: settings, a pooled database connection, and the authenticated, scoped caller.

A caller is a person with a session cookie (``campusguard_session``, set by ``POST /api/v1/auth/login``), or
the built-in ``admin`` over HTTP Basic with the required admin secret, for scripts and first setup. Every
route but ``/health`` and the login itself depends on :data:`CurrentUser`, and what it returns carries the
organisation path the caller may see: a guard's is their school's, a district officer's their district's.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPBasic, HTTPBasicCredentials
from psycopg_pool import ConnectionPool

from command_ui.config import WebProcess
from domain.scope import within
from store.auth_repo import session_account

SESSION_COOKIE = "campusguard_session"
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


def _unauthorised(basic: bool) -> HTTPException:
    # The Basic challenge only for callers that tried Basic: to a browser it would pop up a login dialog
    # over the page's own sign-in.
    headers = {"WWW-Authenticate": 'Basic realm="campusguard"'} if basic else None
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail="sign in first", headers=headers)


def get_current_user(
    settings: SettingsDep, conn: ConnDep,
    token: Annotated[str | None, Depends(_cookie)],
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> User:
    """Authenticate the caller by session cookie or, for the built-in admin, HTTP Basic."""
    if token:
        found = session_account(conn, token, datetime.now(UTC))
        if found is None:
            raise _unauthorised(basic=False)
        return User(found.id, found.role, found.scope_path)
    if credentials is not None:
        expected = settings.admin_password.get_secret_value() if settings.admin_password else ""
        # Constant-time comparisons: timing must not tell which half was wrong.
        user_ok = secrets.compare_digest(credentials.username.encode(), b"admin")
        password_ok = bool(expected) and secrets.compare_digest(credentials.password.encode(), expected.encode())
        if user_ok and password_ok:
            return User(id="admin", role="admin", scope_path="/")
    raise _unauthorised(basic=credentials is not None)


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
