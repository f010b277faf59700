"""Where the MQTT broker is: one URL (`mqtt://` or `mqtts://`, user and password in it)
read into the parts every client of it needs (the ingest, the watch gateway)."""

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class MqttEndpoint:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> "MqttEndpoint":
        parts = urlsplit(url)
        shown = _without_password(url)  # errors are logged and printed
        if parts.scheme not in ("mqtt", "mqtts"):
            msg = f"scheme must be mqtt:// or mqtts://, got {shown!r}"
            raise ValueError(msg)
        if not parts.hostname:
            msg = f"no host in {shown!r}"
            raise ValueError(msg)
        try:
            port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        except ValueError:
            msg = f"bad port in {shown!r}"
            raise ValueError(msg) from None
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=parts.scheme == "mqtts",
        )

    def redacted(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def _without_password(url: str) -> str:
    """The URL with any password replaced by ***."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"
