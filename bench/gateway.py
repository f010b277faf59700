"""The "3G" watch gateway (`anxin gateway watch`, a process of its own) against its own
Mosquitto:

- frames a second decoded and published: 50 watches each send position frames (UD:
  a location, a battery and steps, so three messages each) as fast as the gateway takes
  them, then a keepalive (LK) whose reply comes only once the broker has everything
  before it; target >= 20,000 frames/s. For scale, in the same run: the messages a
  second the same broker acknowledges from the project's bare load publisher
  (simulators/mqttload.py, one Python thread writing, one reading);
- memory per idle connection: the gateway's resident memory before and after 10,000
  watches connect and say LK once; target <= 20 KiB.

Prints JSON. `python -m bench.gateway [--frames N] [--watches N] [--idle N]`
"""

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from simulators.mqttload import LoadPublisher
from simulators.watch import frame, position
from testbed.services import Mosquitto, free_port, wait_for_port


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def one_watch(port: int, device: str, frames: int, chunk: int = 200) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    ud = frame(position("UD"), device=device)
    for sent in range(0, frames, chunk):
        writer.write(ud * min(chunk, frames - sent))
        await writer.drain()
    writer.write(frame("LK,100,0,80", device=device))
    await writer.drain()
    reply = await reader.readuntil(b"]")
    assert reply.endswith(b"*LK]"), reply
    writer.close()


async def throughput(port: int, watches: int, frames: int) -> dict[str, Any]:
    per_watch = frames // watches
    started = time.perf_counter()
    await asyncio.gather(*(one_watch(port, f"88{k:08d}", per_watch) for k in range(watches)))
    took = time.perf_counter() - started
    total = per_watch * watches
    return {
        "frames": total,
        "seconds": round(took, 2),
        "frames_per_s": round(total / took),
        "messages_per_s": round(3 * total / took),
        "target_frames_per_s": 20_000,
    }


def bare_publisher(port: int, messages: int) -> float:
    """Messages a second the broker acknowledges from the bare load publisher."""
    pub = LoadPublisher(port, "bench-ceiling")
    assert pub.connect()
    payload = b'{"ts":1790000000.0,"lat":30.5928,"lon":114.3055}'
    started = time.perf_counter()
    for k in range(0, messages, 1000):
        pub.publish((f"anxin/v1/88{j % 50:08d}/location", payload, j) for j in range(k, k + 1000))
    while pub.outstanding() and time.perf_counter() - started < 120:
        time.sleep(0.005)
    took = time.perf_counter() - started
    pub.close()
    return messages / took


async def idle_connections(port: int, pid: int, count: int) -> dict[str, Any]:
    before = rss_kib(pid)
    held = []
    for k in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(frame("LK", device=f"99{k:08d}"))
        held.append((reader, writer))
    for reader, _writer in held:
        await reader.readuntil(b"]")
    await asyncio.sleep(1)
    after = rss_kib(pid)
    for _reader, writer in held:
        writer.close()
    return {
        "connections": count,
        "gateway_rss_before_kib": before,
        "gateway_rss_after_kib": after,
        "kib_per_idle_connection": round((after - before) / count, 2),
        "target_kib": 20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--watches", type=int, default=50)
    parser.add_argument("--idle", type=int, default=10_000)
    args = parser.parse_args()
    import resource

    # stopped from outside (a timeout), still stop the gateway and the broker it started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory(prefix="anxin-bench-gateway-") as tmp:
        work = Path(tmp)
        broker = Mosquitto(workdir=work / "mq", executable=Mosquitto.find() or "mosquitto")
        broker.start()
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANXIN_")}
        env.update({"ANXIN_MQTT_URL": broker.url, "ANXIN_LOG_LEVEL": "WARNING"})
        gateway = subprocess.Popen(
            [sys.executable, "-m", "anxin.cli", "gateway", "watch", "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, stdout=(work / "gateway.log").open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for_port(port, timeout=15, proc=gateway)  # type: ignore[arg-type]
            bare = bare_publisher(broker.port, 3 * args.frames // 2)
            through = asyncio.run(throughput(port, args.watches, args.frames))
            memory = asyncio.run(idle_connections(port, gateway.pid, args.idle))
        finally:
            gateway.terminate()
            try:
                gateway.wait(30)
            except subprocess.TimeoutExpired:
                gateway.kill()
                gateway.wait()
            broker.stop()
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "through_the_gateway": through,
        "bare_load_publisher_messages_per_s": round(bare),
        "gateway_messages_over_bare_publisher": round(through["messages_per_s"] / bare, 3),
        "idle": memory,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
