"""One database outage is logged once, with its true length, however many tasks see it
and however long some of them waited on the pool."""

import logging
import time

import psycopg
import pytest

from kernel.outage import OutageLog


def test_an_attempt_begun_during_an_outage_that_fails_after_it_ended_is_no_new_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = OutageLog(logging.getLogger("test.outage"))
    gone = psycopg.OperationalError("server closed the connection unexpectedly")
    waiting_since = time.monotonic()  # a task waits on the pool all through the outage
    with caplog.at_level(logging.INFO, logger="test.outage"):
        outage.failed(gone, attempt_started=time.monotonic())
        assert outage.succeeded() is not None  # back: logged with its length
        outage.failed(psycopg.OperationalError("couldn't get a connection after 5.00 sec"),
                      attempt_started=waiting_since)  # fmt: skip
        assert outage.since is None
        outage.failed(gone, attempt_started=time.monotonic())  # a new one, begun after
        assert outage.since is not None
    said = [r.getMessage() for r in caplog.records]
    assert [m.split(":")[0] for m in said if "unavailable" in m] == ["database unavailable"] * 2
    assert len([m for m in said if "back after" in m]) == 1
