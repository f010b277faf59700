"""What operations teams and orchestrators ask of the service: liveness, readiness
(database, broker subscriptions, every supervised task) and Prometheus metrics."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg_pool import AsyncConnectionPool

from anxin.ingest_service import IngestService
from anxin.supervisor import Supervisor
from dispatch.notify.breaker import Breakers

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    pool: AsyncConnectionPool = state.pool
    supervisor: Supervisor = state.supervisor
    problems = []
    try:
        async with pool.connection(timeout=2) as conn:
            await conn.execute("SELECT 1")
    except Exception as exc:
        problems.append(f"database: {type(exc).__name__}")
    service: IngestService | None = state.ingest
    if service is not None and not service.subscribed():
        problems.append("broker: subscriptions not acknowledged")
    if not state.listener.listening.is_set():
        problems.append("database notifications: not listening (live stream, outbox)")
    problems += [f"task down: {name}" for name in supervisor.down()]
    # a receiver that is down does not make Anxin unready (everyone else's messages
    # flow), but whoever watches /readyz sees which one and since when
    receivers: Breakers | None = state.receivers
    resting = receivers.describe() if receivers is not None else []
    if problems:
        return JSONResponse(
            {"status": "not ready", "problems": problems, "receivers_resting": resting},
            status_code=503,
        )
    return JSONResponse({"status": "ready", "receivers_resting": resting})


@router.get("/metrics")
async def metrics() -> Response:
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)
