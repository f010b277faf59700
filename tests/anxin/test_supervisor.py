"""Every long-running task is supervised: a failure is visible in /readyz, restarted,
and one that keeps failing stops the process with a non-zero exit."""

import time

import httpx
import psycopg

from testbed.services import Mosquitto
from tests.conftest import ServeProcess, register, wait_until
from tests.ingest.test_end_to_end import count, publisher


def readyz(serve: ServeProcess) -> tuple[int, str]:
    r = httpx.get(f"{serve.base_url}/readyz", timeout=5)
    return r.status_code, r.text


def test_a_failed_writer_is_named_in_readyz_restarted_and_loses_nothing_it_held(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    register(db, "w1")
    serve.env.update({"ANXIN_SUPERVISOR_BACKOFF_S": "0.3", "ANXIN_SUPERVISOR_MAX_RESTARTS": "50"})
    serve.start()
    db.execute("ALTER TABLE vitals RENAME TO vitals_away")  # a real fault, not an outage
    try:
        with publisher(broker) as pub:
            for seq in range(100):
                pub.publish("anxin/v1/w1/vitals", {"ts": time.time(), "seq": seq, "hr": 70}, "v")
        wait_until(lambda: "task down: ingest writer" in readyz(serve)[1], timeout=10, what="503")
        assert readyz(serve)[0] == 503
    finally:
        db.execute("ALTER TABLE vitals_away RENAME TO vitals")
    wait_until(lambda: readyz(serve)[0] == 200, timeout=15, what="ready again")
    wait_until(lambda: count(db, "SELECT count(*) FROM vitals") == 100, timeout=10, what="rows")
    assert count(db, "SELECT count(*) FROM dead_letters") == 0
    log = serve.log()
    assert "task 'ingest writer (readings)' failed" in log
    assert 'relation \\"vitals\\" does not exist' in log  # the trace says why


def test_a_task_that_keeps_failing_stops_the_process_with_a_non_zero_exit(
    db: psycopg.Connection, serve: ServeProcess
) -> None:
    serve.env.update(
        {
            "ANXIN_DETECTOR_SNAPSHOT_S": "1",
            "ANXIN_SUPERVISOR_BACKOFF_S": "0.2",
            "ANXIN_SUPERVISOR_MAX_RESTARTS": "2",
        }
    )
    serve.start()
    db.execute("ALTER TABLE detector_state RENAME TO detector_state_away")
    try:
        assert serve.proc is not None
        wait_until(lambda: serve.proc.poll() is not None, timeout=20, what="the process to exit")
    finally:
        db.execute("ALTER TABLE detector_state_away RENAME TO detector_state")
    assert serve.proc.returncode == 1
    assert "task 'detector snapshot' failed 3 times" in serve.log()
