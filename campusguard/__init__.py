"""campusguard: the composition root (settings, the ``campusguard`` command and the wiring of stages)."""

__version__ = "0.1.0"
