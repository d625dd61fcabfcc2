"""A simulated district: buses, buttons, phones and cameras driven through the real ingest paths.

``campusguard simulate`` runs it against any deployment; ``make demo`` runs it beside the product. Nothing in
here takes a shortcut past ingest: positions go over MQTT and HTTP, camera pictures over RTSP.
"""
