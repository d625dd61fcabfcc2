"""The spatial rules, each a pure function: previous state and one fix's facts in, new state and events out.

No rule reads a clock or does I/O; time is the fixes' own device time. Each rule module owns a small frozen
state dataclass whose size is bounded whatever the length of the track.
"""
