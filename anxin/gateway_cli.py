"""`anxin gateway watch`: the "3G" watch gateway as a process of its own, publishing to
the broker of `ANXIN_MQTT_URL` as `ANXIN_GATEWAY_CLIENT_ID`. Stops on SIGTERM or Ctrl-C,
after the broker has what was already received."""

import argparse
import asyncio
import contextlib
import json
import logging
import resource
import signal
from collections.abc import Callable

from anxin import logs
from anxin.settings import Settings
from ingest.broker_out import BrokerGone, BrokerOut
from ingest.consumer import MqttConsumer
from ingest.topics import COMMAND_SUBSCRIPTION
from ingest.watch_gateway import Limits, WatchGateway
from kernel.os_words import os_reason

log = logging.getLogger("anxin.gateway")


def run_watch_gateway(settings: Settings, args: argparse.Namespace) -> int:
    logs.configure(settings.log_level, settings.log_format)
    _allow_many_connections()
    try:
        asyncio.run(_serve(settings, args))
    except (BrokerGone, GatewayFailed) as exc:
        log.error("%s", exc)
        return 1
    except OSError as exc:  # the port is taken, the address is not this machine's
        log.error("cannot listen on %s:%s: %s", args.host, args.port, os_reason(exc))
        return 1
    return 0


async def _serve(settings: Settings, args: argparse.Namespace) -> None:
    mqtt = settings.mqtt
    broker = BrokerOut(
        host=mqtt.host, port=mqtt.port, client_id=settings.gateway_client_id,
        username=mqtt.username, password=mqtt.password, tls=mqtt.tls,
    )  # fmt: skip
    await broker.start()
    gateway = WatchGateway(broker, Limits(idle_s=float(args.idle)))
    server = await gateway.serve(args.host, args.port)
    commands = _command_feed(settings, gateway, asyncio.get_running_loop())
    commands.start()
    sweeping = asyncio.create_task(gateway.sweep(), name="idle sweeper")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info(
        "watch gateway listening on %s:%d, publishing to %s",
        args.host, server.sockets[0].getsockname()[1], mqtt.redacted(),
    )  # fmt: skip
    # the gateway's background work is watched: if the broker connection's task or the
    # sweeper ends, the process says why and exits 1 (its service manager restarts it)
    # rather than go on taking frames it can no longer publish
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


def _command_feed(
    settings: Settings, gateway: WatchGateway, loop: asyncio.AbstractEventLoop
) -> MqttConsumer:
    """Commands to devices (`anxin/v1/+/cmd`), on a session of its own that the broker
    keeps while the gateway restarts; each is acknowledged once handed to its watch (or
    found not to be one of this gateway's)."""
    mqtt = settings.mqtt

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
        tls=mqtt.tls, client_id=f"{settings.gateway_client_id}-cmd",
        subscriptions=(COMMAND_SUBSCRIPTION,), client="stock", protocol=settings.mqtt_protocol,
        on_message=lambda *message: _soon(loop, handle, *message),
    )  # fmt: skip
    return feed


def _soon(loop: asyncio.AbstractEventLoop, handle: Callable[..., None], *args: object) -> None:
    loop.call_soon_threadsafe(handle, *args)


class GatewayFailed(RuntimeError):
    pass


def _allow_many_connections() -> None:
    """Each watch holds a connection: raise the open-files limit to what is allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
