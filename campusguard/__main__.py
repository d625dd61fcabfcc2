"""``python -m campusguard``: the same command line as ``campusguard``."""

from campusguard.cli import app

app(prog_name="campusguard")
