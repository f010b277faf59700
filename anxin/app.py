"""FastAPI assembly: lifespan (pool, ingest, supervisor), error mapping, and each
domain's router mounted (health, readiness and metrics are `anxin.ops_routes`)."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import httpx
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from access.accounts import TokenCheck
from alerts import api as alerts_api
from alerts import metrics as alerts_metrics
from alerts.audit import NOTIFY_CHANNEL
from alerts.escalation import POLL_S, EscalationWorker
from alerts.metrics import refresh_gauges
from alerts.response import answers_api
from alerts.response import api as response_api
from alerts.response.dispatching import POLL_S as OFFERS_POLL_S
from alerts.response.dispatching import OfferWorker
from alerts.stream import StreamHub
from anxin import __version__, http_errors, ops_routes, web_routes
from anxin.db import create_pool, database_info
from anxin.ingest_service import IngestService
from anxin.policies import channels, dispatcher, escalation_policy
from anxin.request_guard import RequestGuard
from anxin.settings import Settings
from anxin.supervisor import Supervisor
from devices import api as devices_api
from dispatch import api as dispatch_api
from dispatch.notify import outbox
from dispatch.notify.worker import POLL_S as OUTBOX_POLL_S
from dispatch.notify.worker import OutboxWorker
from ingest.metrics import DB_OUTAGES
from kernel.listener import Listener
from kernel.outage import OutageLog
from kernel.periodic import every

log = logging.getLogger("anxin")


def create_app(settings: Settings, *, ingest: bool = True) -> FastAPI:
    pool = create_pool(settings)
    policy = escalation_policy(settings)
    routing = dispatcher(settings)
    # one per service, whichever task sees a database outage first
    outage = OutageLog(logging.getLogger("anxin.database"), on_start=DB_OUTAGES.inc)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True, timeout=30)
        async with pool.connection() as conn:
            info = await database_info(conn=conn)
        service = IngestService(settings, pool, outage=outage, policy=policy) if ingest else None
        app.state.ingest = service
        app.state.publish_command = service.publish if service is not None else _no_broker
        if service is not None:
            await service.start(supervisor)
        supervisor.start("database notifications", listener.run)
        supervisor.start("alerts stream", stream.run)
        escalation = EscalationWorker(pool, policy)
        supervisor.start("escalation", partial(every, POLL_S, escalation.step, outage))
        offers = OfferWorker(pool, routing)
        supervisor.start("dispatch offers", partial(every, OFFERS_POLL_S, offers.step, outage))
        # one client for every receiver; each send has this timeout (notify.worker)
        http = httpx.AsyncClient(timeout=settings.notify_timeout_s)
        queued = listener.event(outbox.NOTIFY_CHANNEL)
        sender = OutboxWorker(
            pool, channels(settings, http), lease_s=settings.notify_lease_s, wake=queued
        )
        app.state.receivers = sender.breakers
        supervisor.start("outbox", partial(every, OUTBOX_POLL_S, sender.step, outage, wake=queued))
        supervisor.start(
            "incident gauges",
            partial(every, alerts_metrics.GAUGES_EVERY_S, partial(refresh_gauges, pool), outage),
        )
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
            await sender.stop()
            await http.aclose()
            if service is not None:
                await service.save_state()
            await pool.close()
            log.info("anxin stopped")

    # /docs with Swagger UI's own files: city networks are often offline
    app = FastAPIOffline(title="Anxin", version=__version__, lifespan=lifespan)
    app.state.pool = pool
    app.state.receivers = None  # the outbox worker's breakers, once it runs
    app.state.tokens = TokenCheck()
    app.state.time_zone = settings.time_zone
    app.state.maintenance = settings.maintenance
    app.state.dispatcher = routing
    app.state.sms_callback_token = settings.sms_callback_token.get_secret_value()
    # one LISTEN connection for the process: the stream and the outbox are woken by it
    listener = Listener(settings.database_dsn, outage)
    app.state.listener = listener
    stream = StreamHub(pool, outage, listener.event(NOTIFY_CHANNEL))
    app.state.stream = stream
    supervisor = Supervisor(
        max_restarts=settings.supervisor_max_restarts,
        window_s=settings.supervisor_window_s,
        backoff_s=settings.supervisor_backoff_s,
        # the server that runs the app sets how to stop it; `anxin serve` exits 1 after
        on_give_up=lambda _name: app.state.shutdown(),
    )
    app.state.supervisor = supervisor
    app.state.shutdown = lambda: log.critical("no server to stop")

    http_errors.install(app)
    app.include_router(ops_routes.router)
    app.include_router(alerts_api.router)
    app.include_router(response_api.router)
    app.include_router(answers_api.router)
    app.include_router(devices_api.router)
    app.include_router(dispatch_api.router)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(http_errors.AllowHeader, document=app.openapi)
    web_routes.mount(app, settings)
    app.add_middleware(http_errors.CatchAll)  # outermost of ours: a 500 says a request id
    return app


async def _no_broker(_topic: str, _payload: bytes) -> None:
    msg = "this service runs without ingest, so without a broker connection"
    raise ConnectionError(msg)
