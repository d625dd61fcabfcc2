"""Ingest: MQTT and HTTP sources decoded into typed messages (filled in by the ingest issue)."""
