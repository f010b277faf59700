"""What a scenario file says: who lives where, for how long, what happens to them."""

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kernel.rows import unreadable
from kernel.validation import describe

SCENARIO_DIR = Path(__file__).parent / "scenarios"

# Incident kinds the generator can stage; each is labelled with the rules that count
# as catching it (see simulators.incidents).
INCIDENT_KINDS = (
    "sos",
    "fall",
    "fall_cancelled",
    "smoke",
    "gas",
    "water_leak",
    "spo2_decline",
    "fever",
    "bradycardia",
    "hypertensive_crisis",
    "silent_home",
    "night_fall",
    "door_open_night",
    "wandering_night",
    "flat_battery",
    "watch_offline",
    "sensor_offline",
    "removed",
)


class Noise(BaseModel):
    model_config = ConfigDict(extra="forbid")

    artefacts_per_day: float = Field(default=3.0, ge=0)  # one implausible reading
    gaps_per_day: float = Field(default=4.0, ge=0)  # one message lost
    bad_values_per_day: float = Field(default=1.0, ge=0)  # NaN, -5/min, SpO2 101, 0 °C
    out_of_order_per_day: float = Field(default=1.0, ge=0)  # an old reading sent late
    gps_jumps_per_day: float = Field(default=1.0, ge=0)


class ScenarioSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    residents: int = Field(ge=1, le=100_000)
    days: float = Field(gt=0, le=60)  # scored days
    warmup_days: float = Field(default=2.0, ge=0, le=30)  # replayed, not scored
    seed: int = 0
    start: str = "2026-03-02"  # local date of the first warm-up day
    dementia_share: float = Field(default=0.1, ge=0, le=1)
    hypercapnic_share: float = Field(default=0.05, ge=0, le=1)
    incidents: dict[str, int] = Field(default_factory=dict)
    noise: Noise = Field(default_factory=Noise)

    def model_post_init(self, _context: object) -> None:
        unknown = sorted(set(self.incidents) - set(INCIDENT_KINDS))
        if unknown:
            msg = f"unknown incident kinds {unknown}; known: {', '.join(INCIDENT_KINDS)}"
            raise ValueError(msg)

    @property
    def resident_days(self) -> float:
        return self.residents * self.days


class ScenarioError(Exception):
    pass


def load_spec(name_or_path: str) -> ScenarioSpec:
    """A scenario by file path, or by name from the shipped `scenarios/` folder."""
    path = Path(name_or_path)
    if not path.suffix:
        path = next(SCENARIO_DIR.rglob(f"{name_or_path}.toml"), path)
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in SCENARIO_DIR.rglob("*.toml")))
        msg = f"no scenario {name_or_path!r} (shipped: {shipped})"
        raise ScenarioError(msg)
    try:
        return ScenarioSpec.model_validate(tomllib.loads(path.read_text("utf-8")))
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: not valid TOML"
        raise ScenarioError(msg) from exc
    except ValidationError as exc:
        msg = f"{path}: {describe(exc)}"
        raise ScenarioError(msg) from exc
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{path}: cannot read: {unreadable(exc)}"
        raise ScenarioError(msg) from exc


def suite(name: str) -> list[ScenarioSpec]:
    """The scenarios of a suite: every file in `scenarios/<name>/`."""
    folder = SCENARIO_DIR / name
    files = sorted(folder.glob("*.toml"))
    if not files:
        msg = f"no scenario suite {name!r} under {SCENARIO_DIR}"
        raise ScenarioError(msg)
    return [load_spec(str(f)) for f in files]
