"""Dispatch: service points, travel time, routing and assignment, notifications."""
