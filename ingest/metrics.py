"""Prometheus metrics of the ingest path (served at /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

RECEIVED = Counter("anxin_ingest_messages_total", "MQTT messages taken into a batch")
STORED = Counter("anxin_ingest_rows_stored_total", "New rows committed", ["channel"])
DEAD_LETTERS = Counter("anxin_ingest_dead_letters_total", "Messages dead-lettered")
OVER_LIMIT = Counter(
    "anxin_ingest_over_limit_total", "Messages over a device's rate limit: counted, not stored"
)
ALERTS_OPENED = Counter(
    "anxin_ingest_alerts_opened_total",
    "Alerts opened from ingest: `emergency` in the transaction storing the event,"
    " `detector` from the rules run over each committed batch",
    ["source"],
)
BATCH_SECONDS = Histogram(
    "anxin_ingest_batch_seconds",
    "Time to write and commit one batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BATCH_SIZE = Histogram(
    "anxin_ingest_batch_messages",
    "Messages per committed batch",
    buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000),
)
PENDING = Gauge(
    "anxin_ingest_pending_messages",
    "Received, not yet committed and acknowledged (read when scraped)",
    ["lane"],
)
DB_OUTAGES = Counter("anxin_ingest_database_outages_total", "Times the database went away")
