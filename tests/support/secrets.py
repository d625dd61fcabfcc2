"""Secrets for tests that run the product in production mode: random-looking enough to pass its strength check.

Production refuses short, repeated or patterned secrets (campusguard/settings.py), so tests may not use
``"k" * 40``; these are fixed so a failing test can be rerun with the same values.
"""

from __future__ import annotations

TEST_SECRET_KEY = "test-only-secret-key-4f9c2a7e81b35d60-qK8vX3mZ"
TEST_ADMIN_PASSWORD = "test-only-Admin-7f3k9q2x"
# Signs the tests' Web Push messages (made by `campusguard vapid-keys`); the push tests' own push service checks it.
TEST_VAPID_PRIVATE_KEY = "kNPEdNwnvqv9yTIeQ5i66z03w5CGu4-wIcRppuz-NpM"
