"""Alerts: detectors, the alert model and lifecycle, escalation, alert routes."""
