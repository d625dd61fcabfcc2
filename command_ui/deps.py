"""Request dependencies: settings, a pooled database connection and the authenticated caller.

Until the login and roles of the command-UI issue land, the only account is the built-in ``admin`` whose
password is a required secret (generated and printed in demo mode); it uses HTTP Basic so a browser can
open the API directly. Every API route depends on :data:`CurrentUser`; nothing is reachable without it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from psycopg_pool import ConnectionPool

from campusguard.settings import Settings

_basic = HTTPBasic(realm="campusguard")


@dataclass(frozen=True, slots=True)
class User:
    """The authenticated caller and the organisation path they may see."""

    id: str
    role: str
    scope_path: str


def get_settings(request: Request) -> Settings:
    """Return the settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_conn(request: Request) -> Iterator[psycopg.Connection]:
    """Lend a pooled connection for the duration of the request."""
    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn:
        yield conn


SettingsDep = Annotated[Settings, Depends(get_settings)]
ConnDep = Annotated[psycopg.Connection, Depends(get_conn)]


def get_current_user(
    settings: SettingsDep, credentials: Annotated[HTTPBasicCredentials, Depends(_basic)]
) -> User:
    """Authenticate the caller; comparisons are constant-time so timing reveals nothing."""
    expected = settings.admin_password.get_secret_value() if settings.admin_password else ""
    user_ok = secrets.compare_digest(credentials.username.encode(), b"admin")
    password_ok = bool(expected) and secrets.compare_digest(credentials.password.encode(), expected.encode())
    if not (user_ok and password_ok):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="invalid credentials",
            headers={"WWW-Authenticate": 'Basic realm="campusguard"'},
        )
    return User(id="admin", role="admin", scope_path="/")


CurrentUser = Annotated[User, Depends(get_current_user)]
