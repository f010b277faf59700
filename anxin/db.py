"""The one database pool, and applying schema.sql."""

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import psycopg
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool

from anxin.settings import Settings
from kernel.errors import AnxinError
from kernel.outage import why


class DatabaseNotReady(AnxinError):
    """`anxin serve` cannot start on this database; the message says what to do."""

    code = "database_not_ready"
    zh_default = "数据库尚未就绪"


def schema_sql() -> str:
    packaged = resources.files("anxin") / "schema.sql"
    if packaged.is_file():
        return packaged.read_text()
    # Source checkout (editable install): schema.sql sits at the top of the repository.
    return (Path(__file__).resolve().parent.parent / "schema.sql").read_text()


@dataclass(frozen=True)
class DatabaseInfo:
    server_version: str
    timescaledb: str | None
    license: str | None
    # installed on the server but not in shared_preload_libraries: it cannot be used
    timescaledb_not_preloaded: bool = False

    def describe(self) -> str:
        if self.timescaledb:
            return (
                f"TimescaleDB {self.timescaledb} (license {self.license}) "
                f"on PostgreSQL {self.server_version}: hypertables"
            )
        if self.timescaledb_not_preloaded:
            return (
                f"plain PostgreSQL {self.server_version}: BRIN time indexes. TimescaleDB is"
                " installed but not preloaded: add shared_preload_libraries = 'timescaledb'"
                " to postgresql.conf, restart PostgreSQL and run `anxin db init` again"
            )
        return f"plain PostgreSQL {self.server_version} (no TimescaleDB): BRIN time indexes"


async def apply_schema(*, conn: AsyncConnection) -> DatabaseInfo:
    async with conn.transaction():
        await conn.execute(schema_sql())
    return await database_info(conn=conn)


async def database_info(*, conn: AsyncConnection) -> DatabaseInfo:
    cur = await conn.execute(
        "SELECT current_setting('server_version'),"
        " (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),"
        " EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')"
        "   AND current_setting('shared_preload_libraries') NOT LIKE '%%timescaledb%%'"
    )
    row = await cur.fetchone()
    assert row is not None
    version, tsdb, not_preloaded = row
    license_ = None
    if tsdb:
        cur = await conn.execute("SELECT current_setting('timescaledb.license')")
        lic = await cur.fetchone()
        license_ = lic[0] if lic else None
    return DatabaseInfo(
        server_version=version.split()[0],
        timescaledb=tsdb,
        license=license_,
        timescaledb_not_preloaded=bool(not_preloaded) and tsdb is None,
    )


def create_pool(settings: Settings) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        settings.database_dsn,
        min_size=2,
        max_size=settings.database_pool_size,
        open=False,
        # Broken connections after a database restart are replaced, not handed out.
        check=AsyncConnectionPool.check_connection,
        # A connection not had within this is an outage, reported now, not after the
        # pool's default 30 s.
        timeout=5,
        # The pool's reconnection backs off without a cap (1, 2, 4 ... s), so after a
        # 30 s outage its next try could come 16 s after the database is back, with
        # SOS messages held meanwhile. Giving up a reconnection after a few seconds
        # lets the next request start a fresh one at once: ingest retries every
        # 2 s at most (IngestPipeline.retry_max_s), so that is how late it notices.
        reconnect_timeout=4,
        kwargs={"connect_timeout": 5, "application_name": "anxin"},
    )


def check_database(dsn: str) -> None:
    """Before serving: the server answers, the database exists and has the schema.
    Raises DatabaseNotReady with one line saying which, and what to do (never the
    password). A database that goes away later is an outage, waited out."""
    info = conninfo_to_dict(dsn)
    host, port = str(info.get("host") or "localhost"), str(info.get("port") or 5432)
    where = f"{host}:{port}"
    name = str(info.get("dbname") or info.get("user") or "postgres")
    user = f" -U {info['user']}" if info.get("user") else ""
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            row = conn.execute("SELECT to_regclass('vitals') IS NOT NULL").fetchone()
    except psycopg.OperationalError as exc:
        if _server_lacks(dsn, name):
            msg = (
                f"database {name!r} does not exist on {where}: create it"
                f" (createdb -h {host} -p {port}{user} {name}), then run `anxin db init`"
            )
        else:
            msg = f"cannot reach the database at {where}: {why(exc)}"
        raise DatabaseNotReady(msg) from None
    if not (row and row[0]):
        msg = f"database {name!r} on {where} has no Anxin schema: run `anxin db init`"
        raise DatabaseNotReady(msg)


def _server_lacks(dsn: str, name: str) -> bool:
    """The server answers on its maintenance database and has no database `name`.
    (libpq gives a failed connection no SQLSTATE, and the server may word its
    message in another language, so it is asked.)"""
    try:
        with psycopg.connect(dsn, dbname="postgres", connect_timeout=5) as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return row.fetchone() is None
    except psycopg.Error:
        return False
