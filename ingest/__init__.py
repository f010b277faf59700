"""Ingest: MQTT in, TimescaleDB out, at least once.

consumer (paho, manual PUBACK) -> codec (decode and validate) -> pipeline (batches,
fast path for SOS/fall) -> writer (COPY, dedup, dead letters, alerts) -> ack.
"""
