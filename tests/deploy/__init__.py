"""Tests of the production deployment under docker/: the broker's configuration and the compose file."""
