"""FastAPI assembly: lifespan (pool, ingest), health, readiness, metrics, error mapping."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from anxin import __version__
from anxin.db import create_pool, database_info
from anxin.ingest_service import IngestService
from anxin.settings import Settings
from anxin.supervisor import Supervisor
from kernel.errors import AnxinError

log = logging.getLogger("anxin")


def create_app(settings: Settings, *, ingest: bool = True) -> FastAPI:
    pool = create_pool(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True, timeout=30)
        async with pool.connection() as conn:
            info = await database_info(conn)
        service = IngestService(settings, pool) if ingest else None
        app.state.ingest = service
        if service is not None:
            await service.start(supervisor)
        log.info(
            "anxin %s started",
            __version__,
            extra={
                "fields": {
                    "version": __version__,
                    "database": info.describe(),
                    "broker": settings.mqtt.redacted(),
                    "topics": service.topics if service else [],
                    "mqtt_client": service.client_kind if service else None,
                    "http": f"http://{settings.http_host}:{settings.http_port}",
                }
            },
        )
        try:
            yield
        finally:
            if service is not None:
                await service.stop()
            await supervisor.stop()
            if service is not None:
                await service.save_state()
            await pool.close()
            log.info("anxin stopped")

    app = FastAPI(title="Anxin", version=__version__, lifespan=lifespan)
    app.state.pool = pool
    supervisor = Supervisor(
        max_restarts=settings.supervisor_max_restarts,
        window_s=settings.supervisor_window_s,
        backoff_s=settings.supervisor_backoff_s,
        # the server that runs the app sets how to stop it; `anxin serve` exits 1 after
        on_give_up=lambda _name: app.state.shutdown(),
    )
    app.state.supervisor = supervisor
    app.state.shutdown = lambda: log.critical("no server to stop")

    @app.exception_handler(AnxinError)
    async def _domain_error(_request: Request, exc: AnxinError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        problems = []
        try:
            async with pool.connection(timeout=2) as conn:
                await conn.execute("SELECT 1")
        except Exception as exc:
            problems.append(f"database: {type(exc).__name__}")
        service: IngestService | None = request.app.state.ingest
        if service is not None and not service.subscribed():
            problems.append("broker: subscriptions not acknowledged")
        problems += [f"task down: {name}" for name in supervisor.down()]
        if problems:
            return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
