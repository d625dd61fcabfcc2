"""Command UI: the FastAPI application behind the live map, the guards' page and the history views."""
