"""The kind of unit each person is scoped to, from which their title is named (domain/titles.py)."""

from __future__ import annotations

import psycopg

from domain.titles import title_key, unit_level


def scope_kinds(conn: psycopg.Connection, user_ids: list[str]) -> dict[str, str]:
    """Return the kind of the unit (city, county, township, school, class...) each known person is scoped to."""
    rows = conn.execute("SELECT u.id, o.kind FROM users u JOIN org_units o ON o.id = u.scope_id WHERE u.id = ANY(%s)",
                        (user_ids,)).fetchall()
    return {str(user_id): str(kind) for user_id, kind in rows}


def title_keys(conn: psycopg.Connection, user_ids: list[str]) -> dict[str, str]:
    """Return what each known person is called (a message key of domain/titles.py): by role and unit level."""
    rows = conn.execute("SELECT u.id, u.role, o.kind FROM users u LEFT JOIN org_units o ON o.id = u.scope_id"
                        " WHERE u.id = ANY(%s)", (user_ids,)).fetchall()
    return {str(user_id): title_key(str(role), unit_level(kind)) for user_id, role, kind in rows}
