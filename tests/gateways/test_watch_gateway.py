"""The "3G" watch gateway over real TCP, a real broker and a real `anxin serve`: frames in
every shape a watch sends them, the replies it waits for (only once the broker has the
message), the canonical messages on MQTT, and what lands in the database; an SOS bit is
a P1 alert. Garbage and impostors are shut out; the gateway carries on."""

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from simulators.watch import POSITION as UD_BODY
from simulators.watch import frame
from testbed.services import free_port, wait_for_port
from tests.anxin.test_cli import anxin
from tests.conftest import Mosquitto, ServeProcess, register, wait_until

WATCH = "8800000015"


class Gateway:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log_path = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "anxin.cli", "gateway", "watch",
             "--host", "127.0.0.1", "--port", str(self.port)],
            env={**env, "ANXIN_LOG_FORMAT": "text"}, stdout=log.open("ab"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        wait_for_port(self.port, timeout=15, proc=self.proc)

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # and the test says so below
                self.proc.wait()
                pytest.fail(f"the gateway did not stop on SIGTERM:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def gateway(anxin_env: dict[str, str], tmp_path: Path) -> Iterator[Gateway]:
    started = Gateway(anxin_env, tmp_path / "gateway.log")
    yield started
    started.stop()


@pytest.fixture
def watch(db: psycopg.Connection, serve: ServeProcess) -> str:
    db.execute("INSERT INTO residents (id, name, district) VALUES ('r1', '王秀英', '江岸区')")
    register(db, WATCH)
    db.execute("UPDATE devices SET resident_id = 'r1' WHERE id = %s", (WATCH,))
    serve.start()
    return WATCH


def read_reply(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    got = b""
    while not got.endswith(b"]"):
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:  # closed with what we sent still unread
            break
        if not chunk:
            break
        got += chunk
    return got


def rows(db: psycopg.Connection, query: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in db.execute(query, (WATCH,)).fetchall()]


def alarm(status: str, *, index: str | None = None, kind: str = "AL") -> bytes:
    return frame(f"{kind}," + UD_BODY.format(status=status), index=index)


def test_an_sos_alarm_is_answered_and_becomes_a_p1_alert(
    gateway: Gateway, watch: str, db: psycopg.Connection
) -> None:
    with gateway.connect() as sock:
        sock.sendall(alarm("00010001", index="0001"))  # SOS and low battery at once
        assert read_reply(sock) == b"[3G*8800000015*0001*0002*AL]"
    wait_until(
        lambda: (
            rows(db, "SELECT rule, severity FROM alerts WHERE device_id = %s") == [("sos", "P1")]
        ),
        timeout=10,
        what="the SOS alert",
    )
    # the position's readings go by the readings lane, batched: a moment behind the SOS
    wait_until(
        lambda: (
            rows(db, "SELECT lat, lon FROM locations WHERE device_id = %s") == [(30.5928, 114.3055)]
            and rows(db, "SELECT battery FROM device_status WHERE device_id = %s") == [(62.0,)]
        ),
        timeout=10,
        what="the alarm's location and battery",
    )


def test_sos_fall_and_taken_off_together_are_each_stored_and_alerted(
    gateway: Gateway, watch: str, db: psycopg.Connection
) -> None:
    with gateway.connect() as sock:
        sock.sendall(alarm("00310000", kind="AL_LTE"))  # bits 16, 20, 21
        assert read_reply(sock).endswith(b"*AL]")
        sock.sendall(alarm("00310000", kind="AL_LTE"))  # the watch repeats it
        assert read_reply(sock).endswith(b"*AL]")
    wait_until(
        lambda: (
            sorted(rows(db, "SELECT type FROM events WHERE device_id = %s"))
            == [("fall",), ("removed",), ("sos",)]
        ),
        timeout=10,
        what="three events, once each",
    )
    wait_until(
        lambda: (
            {r[0] for r in rows(db, "SELECT rule FROM alerts WHERE device_id = %s")}
            >= {"sos", "fall"}
        ),
        timeout=10,
        what="SOS and fall alerts",
    )


def test_an_alarm_naming_nothing_and_a_vendors_alarm_keyword_are_answered_and_p1(
    gateway: Gateway, watch: str, db: psycopg.Connection
) -> None:
    """An AL whose status word is 0 is an alarm all the same, and ALCUSTOMER1 (a
    vendor's keyword) is an alarm frame with its SOS bit read: both answered, both P1.
    A position's low battery and power cut bits are events; oxygen and TEMP are read
    from the fields the protocol puts them in."""
    with gateway.connect() as sock:
        sock.sendall(alarm("00000000"))
        assert read_reply(sock).endswith(b"*AL]")
        sock.sendall(alarm("00010000", kind="ALCUSTOMER1"))
        assert read_reply(sock).endswith(b"*AL]")
        sock.sendall(alarm("00004001", kind="UD") + frame("oxygen,1,97") + frame("TEMP,36.6"))
        sock.sendall(frame("LK"))  # answered once the broker has all before it
        assert read_reply(sock).endswith(b"*LK]")
    wait_until(
        lambda: (
            sorted(rows(db, "SELECT type FROM events WHERE device_id = %s"))
            == [("alarm",), ("battery_low",), ("power_cut",), ("sos",)]
            and rows(db, "SELECT spo2, temp FROM vitals WHERE device_id = %s"
                     " AND (spo2 IS NOT NULL OR temp IS NOT NULL) ORDER BY spo2 NULLS LAST")
            == [(97.0, None), (None, 36.6)]
        ),
        timeout=10,
        what="the events and the vitals",
    )  # fmt: skip
    wait_until(
        lambda: (
            sorted(rows(db, "SELECT rule, severity FROM alerts WHERE device_id = %s"))
            == [("alarm", "P1"), ("sos", "P1")]
        ),
        timeout=10,
        what="an alarm and an SOS alert",
    )


def test_split_concatenated_and_indexed_frames_with_noise_all_land(
    gateway: Gateway, watch: str, db: psycopg.Connection, broker: Mosquitto
) -> None:
    seen: list[tuple[str, dict[str, object]]] = []
    listener = mqtt.Client(CallbackAPIVersion.VERSION2)
    listener.on_message = lambda _c, _u, m: seen.append((m.topic, json.loads(m.payload)))
    listener.connect("127.0.0.1", broker.port)
    listener.subscribe(f"anxin/v1/{WATCH}/#", qos=1)
    listener.loop_start()
    time.sleep(0.5)
    stream = (
        frame("LK,120,0,80", index="00A1")
        + b"\r\n"  # some watches end lines
        + frame("bphrt,135,85,72,,,,", length="0000")  # a wrong LEN: brackets decide
        + frame("btemp2,1,37.9")
        + frame("oxygen,95")
        + frame("heart,81")
        + frame("UD," + UD_BODY.format(status="0"))
    )
    with gateway.connect() as sock:
        for k in range(0, len(stream), 7):  # seven bytes at a time
            sock.sendall(stream[k : k + 7])
            time.sleep(0.001)
        assert read_reply(sock) == b"[3G*8800000015*00A1*0002*LK]"
    wait_until(
        lambda: rows(
            db, "SELECT count(*) FILTER (WHERE sbp = 135 AND dbp = 85 AND hr = 72),"
            " count(*) FILTER (WHERE temp > 37.8), count(*) FILTER (WHERE spo2 = 95),"
            " count(*) FILTER (WHERE hr = 81), count(*) FILTER (WHERE steps = 1234)"
            " FROM vitals WHERE device_id = %s",
        ) == [(1, 1, 1, 1, 1)],
        timeout=10,
        what="every measurement stored once",
    )  # fmt: skip
    listener.loop_stop()
    topics = {t for t, _ in seen}
    assert {f"anxin/v1/{WATCH}/{c}" for c in ("status", "vitals", "location")} <= topics
    (bp,) = [p for t, p in seen if p.get("sbp") == 135]
    assert bp["dbp"] == 85
    assert not rows(db, "SELECT reason FROM dead_letters WHERE device_id = %s")


def test_the_watch_is_answered_only_once_the_broker_has_its_alarm(
    gateway: Gateway, watch: str, db: psycopg.Connection, broker: Mosquitto
) -> None:
    with gateway.connect() as sock:
        sock.sendall(frame("LK"))
        assert read_reply(sock).endswith(b"*LK]")
        broker.stop()
        sock.sendall(alarm("00010000"))
        sock.settimeout(1.5)
        with pytest.raises(TimeoutError):
            sock.recv(100)  # no broker, no reply: the watch will send it again
        broker.start()
        assert read_reply(sock, timeout=20).endswith(b"*AL]")
    wait_until(
        lambda: rows(db, "SELECT rule FROM alerts WHERE device_id = %s") == [("sos",)],
        timeout=20,
        what="the SOS once the broker is back",
    )


BAD_FRAMES = (
    b"[3G*8800000015]",
    b"[3G*ID WITH SPACE*0002*LK]",
    frame("UD,1,2,3"),
    frame("bphrt,abc,def"),
    frame("UD," + UD_BODY.format(status="zz")),
)


def test_garbage_impostors_and_bad_frames_are_shut_out_and_the_gateway_carries_on(
    gateway: Gateway,
) -> None:
    with gateway.connect() as noisy:
        noisy.sendall(b"GET / HTTP/1.1\r\n" + b"x" * 5000)
        assert read_reply(noisy) == b""  # closed: too long outside any frame
    with gateway.connect() as impostor:
        impostor.sendall(frame("LK"))
        assert read_reply(impostor).endswith(b"*LK]")
        impostor.sendall(b"[3G*8800000099*0002*LK]")  # speaking for another watch
        assert read_reply(impostor) == b""
    with gateway.connect() as endless:
        endless.sendall(b"[3G*8800000015*FFFF*TK," + b"\x01" * 70_000)
        assert read_reply(endless) == b""  # no end within 64 KiB
    with gateway.connect() as sock:
        for bad in BAD_FRAMES:
            sock.sendall(bad)
        sock.sendall(frame("LK"))
        assert read_reply(sock).endswith(b"*LK]")  # still reading this connection
    assert gateway.proc.poll() is None
    assert "Traceback" not in gateway.log()


def test_a_frame_the_gateway_cannot_read_or_does_not_know_is_a_dead_letter_saying_why(
    gateway: Gateway, watch: str, db: psycopg.Connection
) -> None:
    """A bad frame or an unknown keyword leaves a dead letter with the frame and its
    reason, not only a line in the gateway's log; a keyword the protocol has for
    settings (a firmware version's report) is no fault and leaves none."""
    with gateway.connect() as sock:
        sock.sendall(frame("LK"))
        assert read_reply(sock).endswith(b"*LK]")
        sock.sendall(frame("UD,1,2,3"))  # a position without its fields
        sock.sendall(frame("HEALTHX,72,98"))  # a keyword no watch protocol has
        sock.sendall(b"[3G*8800000015]")  # no length, no content
        sock.sendall(frame("VERNO,G36_V1.00_2024.05.06"))
        sock.sendall(frame("LK"))
        assert read_reply(sock).endswith(b"*LK]")  # the connection carries on

    def letters() -> list[tuple[object, ...]]:
        return rows(db, "SELECT reason_code, reason_values, reason, payload FROM dead_letters"
                        " WHERE device_id = %s ORDER BY id")  # fmt: skip

    wait_until(lambda: len(letters()) == 3, timeout=10, what="three dead letters")
    found = [(code, values, reason, json.loads(bytes(payload))["frame"])  # type: ignore[arg-type]
             for code, values, reason, payload in letters()]  # fmt: skip
    assert found == [
        ("watch_bad_fields", {"keyword": "UD"},
         "the watch's UD frame has fields not as the protocol has them",
         "3G*8800000015*0008*UD,1,2,3"),
        ("watch_unknown_keyword", {"keyword": "HEALTHX"},
         "watch keyword 'HEALTHX' is not one Anxin knows", "3G*8800000015*000D*HEALTHX,72,98"),
        ("watch_bad_frame", {"part": "shape"},
         "the watch frame is not as the protocol [MF*ID*LEN*CONTENT] has it (shape)",
         "3G*8800000015"),
    ]  # fmt: skip
    assert gateway.proc.poll() is None


def test_a_thousand_idle_watches_are_held_and_the_next_one_is_answered(
    gateway: Gateway,
) -> None:
    idle = [gateway.connect() for _ in range(1000)]
    try:
        for sock in idle[:10]:
            sock.sendall(frame("LK"))
        for sock in idle[:10]:
            assert read_reply(sock).endswith(b"*LK]")
        with gateway.connect() as sock:
            sock.sendall(frame("TKQ"))
            assert read_reply(sock).endswith(b"*TKQ]")
    finally:
        for sock in idle:
            sock.close()


def test_commands_reach_the_watch_in_its_own_words_and_its_echoes_are_the_answers(
    gateway: Gateway, watch: str, anxin_env: dict[str, str], serve: ServeProcess
) -> None:
    made = anxin("users", "add", "ops", "--role", "operator", env=anxin_env)
    headers = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
    wait_until(lambda: "subscribed to" in gateway.log(), timeout=10, what="the command feed")
    url = f"{serve.base_url}/api/v1/devices/{WATCH}/commands"

    def answers() -> list[tuple[str, bool | None]]:
        listed = httpx.get(url, headers=headers).json()
        return [(c["command"], c["ok"]) for c in listed if c["answered_at"]]

    with gateway.connect() as sock:
        sock.sendall(frame("LK", index="0009"))  # the watch says who it is
        assert read_reply(sock) == b"[3G*8800000015*0009*0002*LK]"
        sent = httpx.post(url, headers=headers, json={"command": "locate"})
        assert sent.status_code == 202, sent.text
        assert sent.json()["published_at"] is not None
        assert read_reply(sock) == b"[3G*8800000015*0001*0002*CR]"
        sock.sendall(frame("CR", index="0001"))  # the watch's echo
        wait_until(lambda: answers() == [("locate", True)], timeout=10, what="locate answered")
        numbers = {"command": "set_sos_numbers", "numbers": ["+8613800000001", "13900000002"]}
        assert httpx.post(url, headers=headers, json=numbers).status_code == 202
        got = read_reply(sock)
        while got.count(b"]") < 2:
            got += read_reply(sock)
        assert got == (b"[3G*8800000015*0001*0010*SOS1,13800000001]"
                       b"[3G*8800000015*0001*0010*SOS2,13900000002]")  # fmt: skip
        sock.sendall(frame("SOS1", index="0001"))
        time.sleep(0.5)
        assert answers() == [("locate", True)]  # one of two echoed: not answered yet
        sock.sendall(frame("SOS2", index="0001"))
        wait_until(
            lambda: answers() == [("set_sos_numbers", True), ("locate", True)],
            timeout=10,
            what="the SOS numbers answered",
        )
    wrong = httpx.post(url, headers=headers, json={"command": "set_interval"})
    assert wrong.status_code == 422
    assert "interval_s" in wrong.text
    elsewhere = f"{serve.base_url}/api/v1/devices/nobody/commands"
    assert httpx.post(elsewhere, headers=headers, json={"command": "locate"}).status_code == 404
