"""Tests of the alert stage's pure core."""
