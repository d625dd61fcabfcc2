"""Helpers behind the test fixtures: throw-away PostgreSQL clusters and databases, MQTT round trips."""
