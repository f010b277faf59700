"""Mosquitto with the accounts and rules `anxin devices export-mosquitto` writes, and a
real `anxin serve` on its own account: a device speaks only for itself, reads only its
own command topic, cannot join ingest's shared subscription nor take ingest's client
id; a client without an account (or the right password) is not let in."""

import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from testbed.services import Mosquitto, free_port
from tests.anxin.test_cli import anxin
from tests.conftest import ServeProcess, wait_until
from tests.ingest.test_end_to_end import count

SHARE_GROUP = "anxin"


class Client:
    """A paho client that records what the broker said to it."""

    def __init__(self, port: int, client_id: str, user: str | None, password: str | None):
        self.connack: ReasonCode | None = None
        self.suback: list[str] = []
        self.got: list[str] = []
        self.done = threading.Event()
        self._mqtt = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                 protocol=mqtt.MQTTv5)  # fmt: skip
        if user is not None:
            self._mqtt.username_pw_set(user, password)
        self._mqtt.on_connect = self._connected
        self._mqtt.on_subscribe = lambda _c, _u, _m, codes, _p: self._subscribed(codes)
        self._mqtt.on_message = lambda _c, _u, msg: self.got.append(msg.topic)
        self._mqtt.connect("127.0.0.1", port)
        self._mqtt.loop_start()
        assert self.done.wait(5), "no CONNACK"

    def _connected(self, _c: object, _u: object, _f: object, code: ReasonCode, _p: object) -> None:
        self.connack = code
        self.done.set()

    def _subscribed(self, codes: list[ReasonCode]) -> None:
        self.suback = [str(c) for c in codes]
        self.done.set()

    @property
    def accepted(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    def subscribe(self, *topics: str) -> list[str]:
        self.done.clear()
        self._mqtt.subscribe([(t, 1) for t in topics])
        assert self.done.wait(5), "no SUBACK"
        return self.suback

    def publish(self, topic: str, payload: str) -> None:
        self._mqtt.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self._mqtt.disconnect()
        self._mqtt.loop_stop()


def password_of(stdout: str) -> str:
    lines = stdout.strip().splitlines()
    assert "shown only once" in lines[-2], stdout
    return lines[-1]


def test_a_device_speaks_only_for_itself_and_cannot_reach_ingests_stream(
    database_url: str, db: psycopg.Connection, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    port = free_port()
    ingest_id = f"ingest-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANXIN_")}
    env |= {
        "ANXIN_DATABASE_URL": database_url,
        "ANXIN_MQTT_URL": f"mqtt://anxin:service-secret@127.0.0.1:{port}",
        "ANXIN_MQTT_CLIENT_ID": ingest_id,
        "ANXIN_MQTT_SHARE_GROUP": SHARE_GROUP,
        "ANXIN_HTTP_PORT": str(free_port()),
    }
    passwords = {}
    for device in ("band-a", "band-b"):
        added = anxin("devices", "add", device, "--kind", "band", env=env)
        assert added.returncode == 0, added.stderr
        passwords[device] = password_of(added.stdout)
    hashed = db.execute("SELECT password_hash FROM mqtt_accounts WHERE name = 'band-a'").fetchone()
    assert hashed is not None
    assert hashed[0].startswith("$7$101$")
    assert passwords["band-a"] not in hashed[0]
    # where a city puts it (/etc/mosquitto/anxin): a folder the broker's user can reach
    place = Path(tempfile.mkdtemp(prefix="anxin-broker-"))
    place.chmod(0o755)
    request.addfinalizer(lambda: shutil.rmtree(place, ignore_errors=True))
    closed = anxin("devices", "export-mosquitto", "--out", str(tmp_path / "auth"), env=env)
    assert closed.returncode == 1
    assert "is closed to it" in closed.stderr.strip()
    assert len(closed.stderr.strip().splitlines()) == 1
    out = place / "auth"
    exported = anxin(
        "devices", "export-mosquitto", "--out", str(out), "--listener", f"{port} 127.0.0.1",
        "--data", str(place / "data"), env=env,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    # the configuration as written, as Debian's Mosquitto runs it: started by root, it
    # reads the accounts file as its own user
    broker = Mosquitto(workdir=tmp_path / "mq", port=port, executable=Mosquitto.find() or "",
                       config=out / "mosquitto.conf").start()  # fmt: skip
    assert "Error" not in (tmp_path / "mq" / "stderr.log").read_text()
    serve = ServeProcess(env=env, log_path=tmp_path / "serve.log",
                         http_port=int(env["ANXIN_HTTP_PORT"]))  # fmt: skip
    clients: list[Client] = []

    def connect(client_id: str, user: str | None, password: str | None = None) -> Client:
        c = Client(port, client_id, user, password)
        clients.append(c)
        return c

    try:
        serve.start()
        # no account, the wrong password, or no login at all: not let in
        assert not connect("stranger", "stranger", "guess").accepted
        assert not connect("band-a", "band-a", "wrong").accepted
        assert not connect("anon", None).accepted
        # A with its own password, but ingest's client ids: refused, ingest stays on
        for taken in (ingest_id, f"{ingest_id}-events"):
            assert not connect(taken, "band-a", passwords["band-a"]).accepted
        a = connect("band-a", "band-a", passwords["band-a"])
        b = connect("band-b", "band-b", passwords["band-b"])
        assert a.accepted
        assert b.accepted
        # A may read its own command topic and nothing else: not B's topics, not the
        # stream, not ingest's share of it
        refused = a.subscribe(
            f"$share/{SHARE_GROUP}/anxin/v1/+/+", "anxin/v1/+/+", "anxin/v1/band-b/#", "#"
        )
        assert refused == ["Not authorized"] * 4
        assert a.subscribe("anxin/v1/band-a/cmd") == ["Granted QoS 1"]
        # A speaking as B: dropped by the broker; B's own readings all reach ingest
        now = time.time()
        a.publish("anxin/v1/band-b/event", f'{{"ts": {now}, "type": "sos"}}')
        for seq in range(20):
            b.publish("anxin/v1/band-b/vitals", f'{{"ts": {now + seq}, "seq": {seq}, "hr": 70}}')
        wait_until(
            lambda: count(db, "SELECT count(*) FROM vitals WHERE device_id = 'band-b'") == 20,
            timeout=10,
            what="all 20 of B's readings stored",
        )
        assert count(db, "SELECT count(*) FROM events") == 0
        assert count(db, "SELECT count(*) FROM alerts") == 0
        assert a.got == []
        assert "disconnected from broker" not in serve.log()
    finally:
        for c in clients:
            c.close()
        serve.stop()
        broker.stop()
