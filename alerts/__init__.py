"""Alerts: rules that turn events into incidents, their lifecycle, notifiers and the audit trail."""
