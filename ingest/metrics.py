"""Prometheus metrics of an ingest worker: messages in by source and outcome, lag, batches, dead letters."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_RECEIVED = Counter("campusguard_ingest_received_total", "Envelopes received", ["listener"])
MESSAGES_DECODED = Counter("campusguard_ingest_decoded_total", "Messages decoded", ["source"])
OUTCOMES = Counter(
    "campusguard_ingest_outcomes_total", "Decoded messages by what became of them",
    ["outcome"],  # stored, duplicate, unregistered, panic
)
DEAD_LETTERS = Counter("campusguard_ingest_dead_letters_total", "Envelopes refused", ["reason"])
HTTP_REFUSED = Counter("campusguard_ingest_http_refused_total",
                       "OsmAnd requests refused at the listener before they were read", ["reason"])
BATCH_SIZE = Histogram("campusguard_ingest_batch_size", "Envelopes per committed batch",
                       buckets=(1, 10, 50, 100, 500, 1000, 2000, 5000, 10000))
LAG = Histogram("campusguard_ingest_lag_seconds", "Arrival to database commit",
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
PANIC_LATENCY = Histogram("campusguard_ingest_panic_seconds", "Arrival to panic announced",
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5))
SPOOL_DEPTH = Gauge("campusguard_ingest_spool_depth", "Envelopes accepted but not yet committed")
