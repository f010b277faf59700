"""`anxin gateway watch`: the "3G" watch gateway as a process of its own
(gateways/watch/process.py), publishing to the broker of `ANXIN_MQTT_URL` as
`ANXIN_GATEWAY_CLIENT_ID`; exits 1 with one line if it cannot go on."""

import argparse
import asyncio
import logging

from anxin import logs
from anxin.settings import Settings
from gateways.watch import process
from gateways.watch.publisher import BrokerGone
from kernel.os_words import os_reason

log = logging.getLogger("anxin.gateway")


def run_watch_gateway(settings: Settings, args: argparse.Namespace) -> int:
    logs.configure(settings.log_level, settings.log_format)
    process.allow_many_connections()
    upstream = process.Upstream(
        endpoint=settings.mqtt,
        client_id=settings.gateway_client_id,
        protocol=settings.mqtt_protocol,
    )
    try:
        asyncio.run(
            process.serve(
                upstream=upstream, host=args.host, port=args.port, idle_s=float(args.idle)
            )
        )
    except (BrokerGone, process.GatewayFailed) as exc:
        log.error("%s", exc)
        return 1
    except OSError as exc:  # the port is taken, the address is not this machine's
        log.error("cannot listen on %s:%s: %s", args.host, args.port, os_reason(exc))
        return 1
    return 0
