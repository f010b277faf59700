"""What the detector can be told: city-wide defaults and per-resident overrides."""

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """City-wide knobs. Per-resident values, where they exist, live in `Overrides`."""

    utc_offset_s: int = 8 * 3600  # local time decides what "night" is
    night_start_h: float = 22.0
    night_end_h: float = 6.0
    # vital signs
    vitals_fresh_s: float = 600.0  # a value older than this no longer scores
    vitals_readings_to_fire: int = 2  # on the median of the last three values
    vitals_persist_s: float = 60.0  # ... and for this long, however often a device reports
    clear_s: float = 1800.0  # an episode must be normal this long before it can fire again
    baseline_warm_readings: int = 120
    baseline_half_life_readings: float = 2000.0
    # events
    fall_cancel_grace_s: float = 120.0
    removed_grace_s: float = 600.0
    # home
    inactivity_p_value: float = 1e-3  # chance of so long a silence in a normal home
    inactivity_learning_days: float = 14.0
    # device health
    offline_intervals: float = 3.0
    battery_clear_margin: float = 10.0
    # geofence
    geofence_readings_to_fire: int = 2


class Overrides(BaseModel):
    """Per-resident settings stored in `resident_overrides.settings` (JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spo2_scale: Literal[1, 2] | None = Field(
        default=None, description="NEWS2 SpO2 scale; default 2 if flagged 'hypercapnic'"
    )
    baseline_z: float = Field(default=4.0, ge=2.0, le=10.0)
    inactivity_floor_h: float = Field(default=4.0, ge=1.0, le=48.0)
    bed_exit_min: float = Field(default=30.0, ge=5.0, le=240.0)
    door_open_min: float = Field(default=10.0, ge=1.0, le=240.0)
    home_radius_m: float = Field(default=200.0, ge=50.0, le=5000.0)
    low_battery_pct: float = Field(default=15.0, ge=1.0, le=50.0)
