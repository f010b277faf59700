"""schema.sql applies twice without error or change, on TimescaleDB and on plain PostgreSQL."""

import subprocess
from pathlib import Path

import psycopg
import pytest

from anxin.db import schema_sql
from testbed.services import PostgresCluster


def schema_dump(cluster: PostgresCluster, dbname: str) -> str:
    cmd = [str(cluster.bindir / "pg_dump"), "--schema-only", "-d", cluster.dsn(dbname)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    # pg_dump brackets its output with a random \restrict token on every run.
    return "\n".join(line for line in out.splitlines() if "restrict " not in line)


def apply_twice(cluster: PostgresCluster, dbname: str) -> tuple[str, str]:
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
        conn.execute(f'CREATE DATABASE "{dbname}"')
    with psycopg.connect(cluster.dsn(dbname), autocommit=True) as conn:
        conn.execute(schema_sql())
        first = schema_dump(cluster, dbname)
        conn.execute(schema_sql())
    return first, schema_dump(cluster, dbname)


def test_schema_applies_twice_unchanged_on_timescaledb(pg_cluster: PostgresCluster) -> None:
    assert pg_cluster.timescaledb, "the test cluster has no TimescaleDB"
    first, second = apply_twice(pg_cluster, "schema_tsdb")
    assert first == second
    with psycopg.connect(pg_cluster.dsn("schema_tsdb")) as conn:
        hypertables = {
            r[0]
            for r in conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")
        }
    assert hypertables == {"vitals", "events", "locations", "device_status"}


@pytest.fixture(scope="module")
def plain_cluster(tmp_path_factory: pytest.TempPathFactory, pg_bindir: Path):  # type: ignore[no-untyped-def]
    cluster = PostgresCluster(
        datadir=tmp_path_factory.mktemp("plain") / "data", bindir=pg_bindir, timescaledb=False
    ).start()
    yield cluster
    cluster.stop("immediate")


def test_schema_applies_twice_unchanged_on_plain_postgresql(
    plain_cluster: PostgresCluster,
) -> None:
    first, second = apply_twice(plain_cluster, "schema_plain")
    assert first == second
    assert "USING brin (ts)" in first
    assert "timescaledb" not in first
