"""Geo: geofences, routes and the spatial rules for buses and people; pure functions, no I/O."""
