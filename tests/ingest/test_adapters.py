"""Zigbee2MQTT and OwnTracks through a real broker and a real `anxin serve`: what each
says lands in the database as Anxin's own readings, events, status and alerts; the
bridge's own topics, requests to devices and OwnTracks' cards leave no dead letter."""

import time

import psycopg

from tests.conftest import Mosquitto, ServeProcess, wait_until
from tests.ingest.test_end_to_end import count, publisher


def add(db: psycopg.Connection, device: str, kind: str, protocol: str, name: str) -> None:
    """A device of its own resident's (a resident's alerts are grouped into one)."""
    db.execute("INSERT INTO residents (id, name) VALUES (%s, '王秀英')", (f"r-{device}",))
    db.execute(
        "INSERT INTO devices (id, kind, resident_id, expected_interval_s, protocol, name)"
        " VALUES (%s, %s, %s, 3600, %s, %s)",
        (device, kind, f"r-{device}", protocol, name),
    )


def events(db: psycopg.Connection, device: str) -> list[str]:
    rows = db.execute(
        "SELECT type FROM events WHERE device_id = %s ORDER BY ts, type", (device,)
    ).fetchall()
    return [r[0] for r in rows]


def dead_letters(db: psycopg.Connection) -> list[tuple[str, str, dict[str, object]]]:
    rows = db.execute("SELECT topic, reason_code, reason_values FROM dead_letters").fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def test_zigbee2mqtt_sensors_and_buttons_become_events_status_and_alerts(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    for device, kind, name in [
        ("z-door", "door", "home12/door"),
        ("z-pir", "motion", "home12/pir"),
        ("z-smoke", "smoke", "home12/smoke"),
        ("z-sos", "sos_button", "home12/sos"),
        ("z-remote", "button", "home12/remote"),
        ("z-zone", "button", "home12/zone"),
    ]:
        add(db, device, kind, "zigbee2mqtt", name)
    serve.start()
    seen = int(time.time() * 1000) - 60_000
    with publisher(broker) as pub:
        for topic, payload in [
            # the bridge's own business, retained or not: ignored
            ("zigbee2mqtt/bridge/state", b"online"),
            ("zigbee2mqtt/bridge/info", b'{"version":"1.40.2","coordinator":{}}'),
            ("zigbee2mqtt/bridge/logging", b'{"level":"info","message":"MQTT publish"}'),
            # a door: open, the same state again (a battery report), then closed
            ("zigbee2mqtt/home12/door", {"contact": False, "battery": 88, "battery_low": False,
                                         "tamper": False, "linkquality": 96, "last_seen": seen}),
            ("zigbee2mqtt/home12/door", {"contact": False, "battery": 87, "battery_low": False,
                                         "tamper": False, "linkquality": 90,
                                         "last_seen": seen + 1000}),
            ("zigbee2mqtt/home12/door", {"contact": True, "battery": 87, "battery_low": True,
                                         "tamper": True, "last_seen": seen + 2000}),
            ("zigbee2mqtt/home12/door/set", {"state": "ON"}),  # a request to it: ignored
            ("zigbee2mqtt/home12/pir", {"occupancy": True, "battery": 100,
                                        "last_seen": seen + 3000}),
            ("zigbee2mqtt/home12/smoke", {"smoke": True, "battery": 70, "last_seen": seen + 4000}),
            # a press of a button registered as an SOS button is an SOS ...
            ("zigbee2mqtt/home12/sos", {"action": "single", "battery": 90,
                                        "last_seen": seen + 5000}),
            # ... of another button it is a button press, unless it says emergency
            ("zigbee2mqtt/home12/remote", {"action": "double", "last_seen": seen + 6000}),
            ("zigbee2mqtt/home12/remote", {"action": "emergency", "last_seen": seen + 7000}),
            ("zigbee2mqtt/home12/zone", {"sos": True, "battery_low": False,
                                         "last_seen": seen + 8000}),
            # availability in Zigbee2MQTT 1.x and 2.x
            ("zigbee2mqtt/home12/door/availability", b"offline"),
            ("zigbee2mqtt/home12/pir/availability", b'{"state":"online"}'),
            ("zigbee2mqtt/home99/ghost", {"occupancy": True}),  # no such device registered
        ]:  # fmt: skip
            pub.publish(topic, payload, "event")
        pub.flush()

    def stored() -> bool:
        return count(db, "SELECT count(*) FROM device_status WHERE online IS NOT NULL") == 2

    wait_until(stored, timeout=10, what="both availability messages stored")
    wait_until(lambda: bool(dead_letters(db)), timeout=5, what="the ghost's dead letter")
    assert events(db, "z-door") == ["door_open", "battery_low", "door_close", "tamper"]
    assert events(db, "z-pir") == ["motion"]
    assert events(db, "z-smoke") == ["smoke"]
    assert events(db, "z-sos") == ["sos"]
    assert events(db, "z-remote") == ["button", "sos"]
    assert events(db, "z-zone") == ["sos"]
    door = db.execute(
        "SELECT battery, online FROM device_status WHERE device_id = 'z-door' ORDER BY ts"
    ).fetchall()
    assert door == [(88.0, None), (87.0, None), (87.0, None), (None, False)]
    assert db.execute(
        "SELECT online FROM device_status WHERE device_id = 'z-pir' AND online IS NOT NULL"
    ).fetchall() == [(True,)]
    alerts = db.execute(
        "SELECT device_id, rule, severity FROM alerts ORDER BY device_id, rule"
    ).fetchall()
    emergencies = [a for a in alerts if a[2] == "P1"]
    assert sorted(a[0] for a in emergencies) == ["z-remote", "z-smoke", "z-sos", "z-zone"]
    assert dead_letters(db) == [
        (
            "zigbee2mqtt/home99/ghost",
            "unknown_name",
            {"protocol": "zigbee2mqtt", "name": "home99/ghost"},
        )
    ]


def test_owntracks_locations_crossings_and_last_will_are_stored(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    add(db, "phone-wang", "phone", "owntracks", "wang/pixel")
    serve.start()
    now = int(time.time()) - 120
    leave = {"_type": "transition", "event": "leave", "desc": "家", "rid": "a1b2", "t": "c",
             "tst": now + 10, "wtst": now - 86_400, "lat": 30.6012, "lon": 114.3021,
             "acc": 25}  # fmt: skip
    with publisher(broker) as pub:
        for topic, payload in [
            ("owntracks/wang/pixel", {"_type": "location", "lat": 30.6, "lon": 114.3, "tst": now,
                                      "acc": 12, "batt": 54, "tid": "WX", "vel": 0, "t": "u"}),
            ("owntracks/wang/pixel/event", leave),
            ("owntracks/wang/pixel/event", leave),  # sent again: the same crossing
            ("owntracks/wang/pixel/event", {**leave, "event": "enter", "tst": now + 60}),
            ("owntracks/wang/pixel/info", {"_type": "card", "name": "王秀英"}),
            ("owntracks/wang/pixel/waypoints", {"_type": "waypoints", "waypoints": []}),
            ("owntracks/wang/pixel", {"_type": "location", "lon": 114.3, "tst": now + 70}),
            ("owntracks/wang/pixel", {"_type": "lwt", "tst": now - 3600}),
        ]:  # fmt: skip
            pub.publish(topic, payload, "location")
        pub.flush()

    def stored() -> bool:
        return count(db, "SELECT count(*) FROM device_status WHERE online = false") == 1

    wait_until(stored, timeout=10, what="the last will stored")
    assert db.execute(
        "SELECT lat, lon, acc FROM locations WHERE device_id = 'phone-wang' ORDER BY ts"
    ).fetchall() == [(30.6, 114.3, 12.0), (30.6012, 114.3021, 25.0), (30.6012, 114.3021, 25.0)]
    assert events(db, "phone-wang") == ["geofence_exit", "geofence_enter"]
    region = db.execute(
        "SELECT data->>'region', data->>'rid' FROM events WHERE type = 'geofence_exit'"
    ).fetchone()
    assert region == ("家", "a1b2")
    assert db.execute(
        "SELECT battery FROM device_status WHERE device_id = 'phone-wang' AND battery IS NOT NULL"
    ).fetchall() == [(54.0,)]
    assert dead_letters(db) == [
        ("owntracks/wang/pixel", "owntracks_location_lacks", {"fields": "lat"})
    ]
    # the crossings are stored, not paged; the last will is the offline rule's (P3),
    # opened by the detector a moment after the status is stored
    wait_until(lambda: count(db, "SELECT count(*) FROM alerts") > 0, timeout=10,
               what="the offline alert")  # fmt: skip
    assert db.execute("SELECT rule, severity FROM alerts").fetchall() == [("offline", "P3")]


def test_owntracks_steps_are_stored_and_encrypted_or_placeless_messages_say_why(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    """A phone with encryption on, one with no fix yet, a cell-tower guess, a reset
    clock and a type OwnTracks does not have: each is a dead letter with its reason;
    the step counter is a reading, the app's status report is ignored on purpose."""
    add(db, "phone-li", "phone", "owntracks", "li/iphone")
    serve.start()
    now = int(time.time()) - 120
    with publisher(broker) as pub:
        for topic, payload in [
            ("owntracks/li/iphone", {"_type": "encrypted", "data": "c2VhbGVk"}),
            ("owntracks/li/iphone", {"_type": "location", "lat": 0, "lon": 0, "tst": now}),
            ("owntracks/li/iphone", {"_type": "location", "lat": 30.6, "lon": 114.3,
                                     "tst": now + 1, "acc": 25_000}),
            ("owntracks/li/iphone", {"_type": "location", "lat": 30.6, "lon": 114.3, "tst": 0}),
            ("owntracks/li/iphone", {"_type": "heartbeat", "tst": now}),
            ("owntracks/li/iphone", {"_type": "status", "android": {"hib": 1}}),
            ("owntracks/li/iphone/step", {"_type": "steps", "tst": now + 5, "steps": 3120,
                                          "from": now - 86_400, "to": now}),
            ("owntracks/li/iphone", {"_type": "location", "lat": 30.6, "lon": 114.3,
                                     "tst": now + 10, "acc": 30}),
        ]:  # fmt: skip
            pub.publish(topic, payload, "location")
        pub.flush()

    wait_until(lambda: count(db, "SELECT count(*) FROM locations") == 1, timeout=10,
               what="the one real fix stored")  # fmt: skip
    wait_until(lambda: len(dead_letters(db)) == 5, timeout=10, what="five dead letters")
    assert db.execute("SELECT steps FROM vitals WHERE device_id = 'phone-li'").fetchall() == [
        (3120,)
    ]
    assert sorted(code for _, code, _ in dead_letters(db)) == [
        "no_fix", "owntracks_encrypted", "owntracks_unknown_type", "too_rough", "ts_before_2000"
    ]  # fmt: skip
    reason = db.execute(
        "SELECT reason FROM dead_letters WHERE reason_code = 'owntracks_encrypted'"
    ).fetchone()
    assert reason == ("encrypted: set the key or turn encryption off",)


def test_every_zigbee_alarm_form_is_an_alarm_and_a_zone_never_cleared_alarms_again(
    db: psycopg.Connection, broker: Mosquitto, serve: ServeProcess
) -> None:
    """The IAS zone properties and emergency actions the converters expose, each on a
    device of the kind that says it: CO, a pendant's generic alarm_1 that is never
    cleared, a zone-named sos_alarm_1, a radar's presence and fall, a keypad's panic and
    endpoint emergency, a water sensor's `water`, and an alarm of no stated kind."""
    for device, kind, name in [
        ("z-co", "gas", "home7/co"),
        ("z-pendant", "sos_button", "home7/pendant"),
        ("z-zone", "button", "home7/zone"),
        ("z-radar", "motion", "home7/radar"),
        ("z-keypad", "button", "home7/keypad"),
        ("z-water", "water", "home7/water"),
        ("z-siren", "door", "home7/siren"),
    ]:
        add(db, device, kind, "zigbee2mqtt", name)
    serve.start()
    seen = int(time.time() * 1000) - 300_000
    with publisher(broker) as pub:
        for topic, payload in [
            ("zigbee2mqtt/home7/co", {"carbon_monoxide": True, "battery": 90, "last_seen": seen}),
            ("zigbee2mqtt/home7/pendant", {"alarm_1": True, "last_seen": seen}),
            # the zone bit is never cleared: a press 70 s later is a new alarm, the same
            # state 10 s after that a repeat of it
            ("zigbee2mqtt/home7/pendant", {"alarm_1": True, "last_seen": seen + 70_000}),
            ("zigbee2mqtt/home7/pendant", {"alarm_1": True, "last_seen": seen + 80_000}),
            ("zigbee2mqtt/home7/zone", {"sos_alarm_1": True, "last_seen": seen}),
            ("zigbee2mqtt/home7/radar", {"presence": True, "fall_down_status": "fall",
                                         "last_seen": seen}),
            ("zigbee2mqtt/home7/keypad", {"action": "panic", "last_seen": seen}),
            ("zigbee2mqtt/home7/keypad", {"action": "emergency_1", "last_seen": seen + 1000}),
            ("zigbee2mqtt/home7/water", {"water": True, "last_seen": seen}),
            ("zigbee2mqtt/home7/siren", {"alarm": True, "last_seen": seen}),
        ]:  # fmt: skip
            pub.publish(topic, payload, "event")
        pub.flush()

    def p1s() -> list[tuple[str, str]]:
        rows = db.execute(
            "SELECT a.device_id, a.rule FROM alerts a WHERE a.severity = 'P1'"
            " ORDER BY a.device_id, a.rule"
        ).fetchall()
        return sorted({(r[0], r[1]) for r in rows})

    wait_until(lambda: len(p1s()) == 7, timeout=15, what="a P1 alert from each device")
    assert p1s() == [
        ("z-co", "carbon_monoxide"), ("z-keypad", "sos"), ("z-pendant", "sos"),
        ("z-radar", "fall"), ("z-siren", "alarm"), ("z-water", "water_leak"),
        ("z-zone", "sos"),
    ]  # fmt: skip
    assert events(db, "z-pendant") == ["sos", "sos"]
    assert events(db, "z-keypad") == ["sos", "sos"]
    assert events(db, "z-radar") == ["fall", "motion"]
    assert dead_letters(db) == []
