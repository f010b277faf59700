"""FastAPI assembly: lifespan (pool, ingest, supervisor), error mapping, and each
domain's router mounted (health, readiness and metrics are `anxin.ops_routes`)."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from anxin import __version__, ops_routes
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

    app.include_router(ops_routes.router)
    return app
