"""The watch gateway as a process of its own: it listens for watches, publishes what
they say to the broker like any device, hands them the commands the broker holds for
them, and stops on SIGTERM or Ctrl-C after the broker has what was already received.
Its background work is watched: if the broker connection or the idle sweeper ends, it
says why and stops with an error (its service manager restarts it) rather than go on
taking frames it can no longer publish."""

import asyncio
import contextlib
import json
import logging
import resource
import signal
from collections.abc import Callable
from dataclasses import dataclass

from gateways.watch.publisher import BrokerOut
from gateways.watch.server import Limits, WatchGateway
from ingest.consumer import MqttConsumer
from ingest.topics import COMMAND_SUBSCRIPTION
from kernel.broker import MqttEndpoint

log = logging.getLogger("anxin.gateway")


class GatewayFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Upstream:
    """The broker and who the gateway is to it."""

    endpoint: MqttEndpoint
    client_id: str
    protocol: str  # of the command session: "5" or "3.1.1"


async def serve(*, upstream: Upstream, host: str, port: int, idle_s: float) -> None:
    """Run the gateway until SIGTERM or SIGINT; raises GatewayFailed if its background
    work ends, BrokerGone if the broker cannot be reached, OSError if it cannot listen."""
    mqtt = upstream.endpoint
    broker = BrokerOut(
        host=mqtt.host, port=mqtt.port, client_id=upstream.client_id,
        username=mqtt.username, password=mqtt.password, tls=mqtt.tls,
    )  # fmt: skip
    await broker.start()
    gateway = WatchGateway(broker, Limits(idle_s=idle_s))
    server = await gateway.serve(host, port)
    commands = _command_feed(upstream, gateway, asyncio.get_running_loop())
    commands.start()
    sweeping = asyncio.create_task(gateway.sweep(), name="idle sweeper")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info(
        "watch gateway listening on %s:%d, publishing to %s",
        host, server.sockets[0].getsockname()[1], mqtt.redacted(),
    )  # fmt: skip
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait(
        {stopping, sweeping, broker.task}, return_when=asyncio.FIRST_COMPLETED
    )
    failed = [t for t in done if t is not stopping]
    commands.stop()
    server.close()
    for conn in list(gateway.connections):
        conn.close("the gateway is stopping")
    sweeping.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweeping
    stopping.cancel()
    if failed:
        broker.stop()
        task = failed[0]
        why = task.exception() if not task.cancelled() else "cancelled"
        raise GatewayFailed(f"the gateway's {task.get_name()} task ended: {why!r}")
    unacknowledged = await broker.drain(timeout=5)
    if unacknowledged:
        log.error("stopping with %d messages the broker has not acknowledged", unacknowledged)
    broker.stop()
    log.info("watch gateway stopped")


def allow_many_connections() -> None:
    """Each watch holds a connection: raise the open-files limit to what is allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _command_feed(
    upstream: Upstream, gateway: WatchGateway, loop: asyncio.AbstractEventLoop
) -> MqttConsumer:
    """Commands to devices (`anxin/v1/+/cmd`), on a session of its own that the broker
    keeps while the gateway restarts; each is acknowledged once handed to its watch (or
    found not to be one of this gateway's)."""
    mqtt = upstream.endpoint

    def handle(topic: str, payload: bytes, mid: int, qos: int) -> None:
        device_id = topic.split("/")[2]
        try:
            body = json.loads(payload)
            if isinstance(body, dict):
                gateway.command(device_id, body)
        except ValueError:
            log.warning("a command for %s that is not JSON: %r", device_id, payload[:80])
        except Exception:  # a bug here must not leave the command unacknowledged
            log.exception("command for %s not handled: %r", device_id, payload[:80])
        finally:
            if qos == 1:
                feed.ack_all([mid])

    feed = MqttConsumer(
        host=mqtt.host, port=mqtt.port, username=mqtt.username, password=mqtt.password,
        tls=mqtt.tls, client_id=f"{upstream.client_id}-cmd",
        subscriptions=(COMMAND_SUBSCRIPTION,), client="stock", protocol=upstream.protocol,
        on_message=lambda *message: _soon(loop, handle, *message),
    )  # fmt: skip
    return feed


def _soon(loop: asyncio.AbstractEventLoop, handle: Callable[..., None], *args: object) -> None:
    loop.call_soon_threadsafe(handle, *args)
