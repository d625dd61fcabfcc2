"""Who an escalation step reaches: every address of each person it names, email and phone both."""

from __future__ import annotations

import psycopg

from store.incident_repo import recipients
from tests.support.ingest import prepare_database
from tests.support.postgres import scratch_database


def test_a_person_with_email_and_phone_is_reached_by_each(service_urls: object) -> None:
    with scratch_database(service_urls.database_url) as url:  # type: ignore[attr-defined]
        prepare_database(url)
        with psycopg.connect(url) as conn:
            people = conn.execute(
                "SELECT id, email, phone FROM users WHERE role = 'district_admin' AND active ORDER BY id").fetchall()
            got = recipients(conn, "antelope-park-es", "district_admin")
    assert people and any(email and phone for _, email, phone in people)
    expected = tuple(a for _, email, phone in people for a in (email, phone) if a is not None)
    assert got == expected  # each person's email, then their phone, people in id order
