"""Devices: residents, their devices, and the lookups ingest needs."""
