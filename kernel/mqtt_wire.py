"""MQTT 3.1.1 packets written by hand where paho's per-message path is too slow: the
watch gateway's publisher (gateways.watch.publisher) and the load generator of the benches
and fault tests (simulators.mqttload)."""

import struct

_SHORT = [bytes((n,)) for n in range(128)]


def remaining_length(n: int) -> bytes:
    """The variable-length "remaining length" of a fixed header (1 to 4 bytes)."""
    if n < 128:
        return _SHORT[n]
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def text(value: str) -> bytes:
    """A UTF-8 string: two bytes of length, then the bytes."""
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


def connect_packet(
    client_id: str,
    *,
    username: str | None = None,
    password: str | None = None,
    keepalive_s: int = 0,
) -> bytes:
    """CONNECT, protocol level 4, clean session."""
    flags = 0x02
    payload = text(client_id)
    if username is not None:
        flags |= 0x80
        payload += text(username)
        if password is not None:
            flags |= 0x40
            payload += text(password)
    body = text("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive_s) + payload
    return b"\x10" + remaining_length(len(body)) + body
