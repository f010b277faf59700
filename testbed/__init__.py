"""What tests, benches and `anxin demo` stand up around the product, and the product
never imports: real PostgreSQL and Mosquitto on free ports (`services`), stand-ins for
the paid receivers Anxin sends to, each checking requests as its provider documents
them (`receivers`), and the watchdog that stops what the demo started (`reaper`).
Only `tests/`, `bench/` and `anxin/demo.py` import it (tests/test_layout.py)."""
