"""Geo: geofences, routes and the spatial rules for buses and people; pure functions, no I/O.

``engine.GeoEngine`` is the stage: built from a site, it turns fixes into typed events (``events``) with
per-subject state the caller keeps. Distances go through ``projection`` (metres on the WGS-84 tangent
plane); fences and their GeoJSON live in ``fences``; each rule is a pure function in ``rules``;
``responders`` ranks guards for an incident.
"""
