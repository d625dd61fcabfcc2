"""Tests of the ingest stage: decoders and their malformed-input corpus."""
