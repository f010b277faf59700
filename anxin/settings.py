"""The one settings object. Built once at start and passed in; nothing else reads the
environment."""

import difflib
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from devices.health import Thresholds
from kernel.broker import MqttEndpoint
from kernel.rows import unreadable
from kernel.validation import describe


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANXIN_", extra="forbid")

    database_url: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:5432/anxin")
    database_pool_size: int = Field(default=8, ge=2, le=100)

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_client_id: str = Field(default="anxin-ingest", min_length=1, max_length=128)
    # the watch gateway's own client id (it publishes for every watch it serves)
    gateway_client_id: str = Field(default="anxin-watch-gateway", min_length=1, max_length=128)
    mqtt_protocol: Literal["5", "3.1.1"] = "5"
    # Empty (the default): one ingest instance on plain subscriptions, which Mosquitto
    # keeps across its own restarts. A name: instances split the stream through
    # `$share/{group}/...` (MQTT v5), which Mosquitto 2.0 does not restore after a
    # broker restart (docs/operating.md, "Scaling out").
    mqtt_share_group: str = Field(default="", pattern=r"^[A-Za-z0-9_-]{0,64}$")
    # How long the broker keeps queueing for an instance that went away without
    # leaving: default 7 days alone (its queue is everything), 120 s in a share group
    # (its share is stranded until then). A clean stop in a group leaves at once.
    mqtt_session_expiry_s: int | None = Field(default=None, ge=10)
    mqtt_receive_maximum: int = Field(default=20000, ge=10, le=65535)
    # `fast`: ingest's own receive path over paho internals (4x less CPU a message);
    # `stock`: paho's public API only. fast falls back to stock if paho changed.
    mqtt_client: Literal["fast", "stock"] = "fast"

    # Zigbee2MQTT's base_topic: its sensors' states arrive on <base>/<friendly name>
    zigbee2mqtt_base_topic: str = Field(
        default="zigbee2mqtt", pattern=r"^[A-Za-z0-9_-]{1,64}(/[A-Za-z0-9_-]{1,64}){0,3}$"
    )

    # maintenance tasks (devices.health): a device not heard from this long after it
    # was registered; an SOS button not test-pressed for this many days; a battery
    # whose trend empties it within this many days
    maintenance_first_contact_h: float = Field(default=24.0, gt=0)
    sos_test_days: int = Field(default=7, ge=1, le=90)
    battery_horizon_days: float = Field(default=7.0, gt=0, le=60)

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)

    batch_max_messages: int = Field(default=5000, ge=1, le=100_000)
    batch_max_delay_ms: int = Field(default=50, ge=0, le=60_000)
    # One device and channel may send `device_burst` messages at once (a watch flushing
    # what it buffered offline: 5,000 is over an hour at 1 Hz), then `device_rate_per_s`;
    # beyond that its messages are counted in a summary dead letter, not stored.
    device_rate_per_s: float = Field(default=20.0, gt=0)
    device_burst: int = Field(default=5000, ge=1)
    max_payload_bytes: int = Field(default=64 * 1024, ge=256)
    # an HTTP request's body: refused with 413 before it is parsed (anxin.request_guard)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    future_tolerance_s: int = Field(default=24 * 3600, ge=0)
    # how often the detector saves what it learned (baselines, last heard) to the database
    detector_snapshot_s: float = Field(default=300.0, ge=1.0)
    # how often it re-reads residents and overrides changed in the database
    detector_refresh_s: float = Field(default=30.0, ge=0.5)

    # An incident nobody acknowledged escalates after its priority's deadline, to the
    # next step of the chain, and again after each further deadline until someone acts.
    ack_deadline_p1_s: float = Field(default=60.0, gt=0)
    ack_deadline_p2_s: float = Field(default=300.0, gt=0)
    ack_deadline_p3_s: float = Field(default=1800.0, gt=0)
    escalation_chain: list[str] = Field(default=["supervisor", "duty_manager"], min_length=1)

    # the service circle: a point further than this (in travel minutes) is not sent
    service_circle_min: float = Field(default=15.0, gt=0, le=240)
    # travel estimate: great-circle distance times the detour, at the mode's speed
    travel_detour: float = Field(default=1.4, ge=1.0, le=5.0)
    travel_mode: Literal["walk", "ebike", "car"] = "ebike"
    # a routing engine's travel times (CSV: point_id, resident_id, minutes) replace the
    # estimate for the pairs they cover
    travel_matrix_file: Path | None = None

    # notifications: a receiver that has not answered within notify_timeout_s is tried
    # again later; a worker holds a message for notify_lease_s, renewed while it sends
    # (every third of it), so one that died mid-send leaves it due again that soon,
    # to be sent again under the same id
    notify_timeout_s: float = Field(default=10.0, gt=0, le=120)
    notify_lease_s: float = Field(default=3.0, ge=2, le=3600)
    # SMS: the provider and the account; templates maps each of Anxin's SMS templates
    # (dispatch.notify.sms.TEMPLATES) to the id the provider approved it under
    sms_provider: Literal["none", "aliyun", "tencent"] = "none"
    sms_key_id: str = ""
    sms_key_secret: SecretStr = SecretStr("")
    sms_sign_name: str = "安心"
    sms_app_id: str = ""  # Tencent's SmsSdkAppId
    sms_region: str = ""
    sms_endpoint: str = ""  # default: the provider's
    sms_templates: dict[str, str] = Field(default_factory=dict)
    # the secret part of the reply callback addresses given to the provider
    # (/api/v1/sms/replies/<provider>/<token>); empty: replies are not taken
    sms_callback_token: SecretStr = SecretStr("")
    # a dispatch text to a point's staff member not reported delivered this long after
    # it was queued (or reported failed or undelivered sooner) goes to the point's next
    # staff member while the offer waits; the receipts come to
    # /api/v1/sms/receipts/<provider>/<token>
    sms_delivery_wait_s: float = Field(default=60.0, ge=5, le=3600)

    # the service as responders' phones reach it: the links in dispatch messages
    public_url: str = Field(default="http://127.0.0.1:8080", pattern=r"^https?://")

    # operators' time zone: report days, and times shown to people
    time_zone: str = "Asia/Shanghai"

    # the dashboard's map draws points and incidents on a plain background; a tile
    # server the operators' network reaches (the city's own, say) can be laid under them
    map_tile_url: str | None = Field(
        default=None, pattern=r"^(https?:)?//.*\{z\}.*\{x\}.*\{y\}", max_length=500
    )
    map_tile_attribution: str = Field(default="", max_length=300)

    # a long-running task that fails is restarted with backoff (from backoff_s, doubling
    # up to 30 s); more than max_restarts failures within window_s stop the process
    supervisor_max_restarts: int = Field(default=5, ge=0)
    supervisor_window_s: float = Field(default=300.0, gt=0)
    supervisor_backoff_s: float = Field(default=1.0, gt=0, le=30)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"

    @field_validator("time_zone")
    @classmethod
    def _check_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            msg = f"unknown time zone {value!r} (e.g. Asia/Shanghai)"
            raise ValueError(msg) from None
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str) -> str:
        MqttEndpoint.parse(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr) -> SecretStr:
        scheme = value.get_secret_value().split("://", 1)[0]
        if scheme not in ("postgresql", "postgres"):
            msg = "must be a postgresql:// URL"
            raise ValueError(msg)
        try:
            conninfo_to_dict(value.get_secret_value())
        except psycopg.ProgrammingError:
            # libpq's sentence quotes the whole URI, password included: ours does not
            msg = "not a valid postgresql:// URL (postgresql://user:password@host:port/database)"
            raise ValueError(msg) from None
        return value

    @model_validator(mode="after")
    def _sms_account_complete(self) -> "Settings":
        if self.sms_provider == "none":
            return self
        from dispatch.notify.sms import TEMPLATES

        missing = [
            f"ANXIN_{name.upper()}"
            for name, value in (
                ("sms_key_id", self.sms_key_id),
                ("sms_key_secret", self.sms_key_secret.get_secret_value()),
                ("sms_sign_name", self.sms_sign_name),
            )
            + ((("sms_app_id", self.sms_app_id),) if self.sms_provider == "tencent" else ())
            if not value
        ]
        unapproved = sorted(set(TEMPLATES) - set(self.sms_templates))
        if unapproved:
            missing.append(f"ANXIN_SMS_TEMPLATES for {', '.join(unapproved)}")
        if missing:
            msg = f"SMS through {self.sms_provider} needs {'; '.join(missing)}"
            raise ValueError(msg)
        return self

    @property
    def session_expiry_s(self) -> int:
        if self.mqtt_session_expiry_s is not None:
            return self.mqtt_session_expiry_s
        return 120 if self.share_group else 7 * 24 * 3600

    @property
    def share_group(self) -> str:
        """The share group in effect: none over MQTT 3.1.1, which has no shared ones."""
        return self.mqtt_share_group if self.mqtt_protocol == "5" else ""

    @property
    def maintenance(self) -> Thresholds:
        return Thresholds(
            first_contact=timedelta(hours=self.maintenance_first_contact_h),
            sos_test=timedelta(days=self.sos_test_days),
            battery_horizon_days=self.battery_horizon_days,
        )

    @property
    def mqtt(self) -> MqttEndpoint:
        return MqttEndpoint.parse(self.mqtt_url)

    @property
    def database_dsn(self) -> str:
        return self.database_url.get_secret_value()


class SettingsError(Exception):
    """A setting is missing or wrong; the message is one line for the operator."""


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    """Build the settings from the environment, then an optional TOML file.

    Raises SettingsError with a single readable line instead of pydantic's report.
    """
    file_keys: set[str] = set()
    if config_file is not None:
        file_keys = set(_toml_keys(config_file))
    cls = _with_toml(config_file) if config_file else Settings
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_one_line(exc, config_file, file_keys)) from exc


def _toml_keys(path: Path) -> dict[str, object]:
    """The config file's settings, or SettingsError in one line (never a traceback)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"config file {str(path)!r} does not exist"
        raise SettingsError(msg) from None
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"config file {str(path)!r} cannot be read: {unreadable(exc)}"
        raise SettingsError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        # the position, where the parser gives one; the words are ours
        at = re.search(r"line (\d+), column (\d+)", exc.args[0] if exc.args else "")
        where = f" at line {at[1]}, column {at[2]}" if at else ""
        msg = f"config file {str(path)!r} is not valid TOML{where}"
        raise SettingsError(msg) from None


def _with_toml(path: Path) -> type[Settings]:
    class FileSettings(Settings):
        model_config = SettingsConfigDict(toml_file=path)

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    return FileSettings


def _one_line(exc: ValidationError, config_file: Path | None, file_keys: set[str]) -> str:
    """Each refused value by the name it was given: a key of the config file, or an
    environment variable."""
    unknown = [e["loc"][0] for e in exc.errors() if e["type"] == "extra_forbidden" and e["loc"]]
    if unknown and config_file is not None:
        key = str(unknown[0])
        close = difflib.get_close_matches(key, Settings.model_fields, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "a key is a setting's name in lower case"
        return f"config file {str(config_file)!r}: unknown key {key!r}; {hint}"

    def where(loc: tuple[int | str, ...]) -> str:
        # a check across settings (a model validator) has no location: its words name them
        if not loc:
            return ""
        if loc[0] in file_keys:
            return f"{'.'.join(str(p) for p in loc)} in {config_file}"
        return "ANXIN_" + "_".join(str(p) for p in loc).upper()

    return "invalid setting " + describe(exc, where)
