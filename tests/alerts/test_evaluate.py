"""`anxin evaluate`: labelled scenarios replayed through the real detector."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from anxin.evaluate import evaluate, targets_met
from simulators.scenario_spec import ScenarioSpec, load_spec, suite


def test_every_incident_kind_in_the_smoke_scenario_is_caught() -> None:
    report, _ = evaluate(load_spec("smoke-test"))
    assert report["missed_critical"] == 0
    assert report["recall"] == 1.0
    assert report["wrong_severity"] == []  # the cancelled fall ends as P3
    assert targets_met(report)


def test_a_scenario_without_incidents_scores_no_recall_and_counts_false_alerts() -> None:
    spec = ScenarioSpec(name="quiet", residents=5, days=1, warmup_days=1, seed=9)
    report, _ = evaluate(spec)
    assert report["incidents"] == 0
    assert report["recall"] is None
    assert report["false_alerts_per_resident_day"] == report["false_alerts"] / 5


def test_the_default_suite_has_at_least_500_resident_days() -> None:
    assert sum(s.resident_days for s in suite("default")) >= 500


@pytest.mark.slow
def test_default_suite_meets_the_targets_and_draws_the_delay_plot(tmp_path: Path) -> None:
    plot = tmp_path / "delays.png"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "anxin.cli",
            "evaluate",
            "--suite",
            "default",
            "--check",
            "--plot",
            str(plot),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    report = json.loads(res.stdout)
    assert report["targets_met"]
    assert report["resident_days"] >= 500
    assert report["missed_critical"] == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unknown_scenario_is_one_clear_line() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "anxin.cli", "evaluate", "no-such-thing"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 2
    assert res.stderr.startswith("anxin: no scenario 'no-such-thing' (shipped: ")


def test_residents_on_their_first_day_are_watched_like_the_rest() -> None:
    report, _ = evaluate(load_spec("first-day"))
    assert report["warmup_days"] == 0
    assert report["recall_first_day"] >= 0.95  # 0.71 without the absolute rules
    assert report["missed_critical_first_day"] == 0
    assert report["false_alerts_per_resident_day_first_day"] < 0.5
    assert "recall_after_first_day" not in report  # one day long: all of it the first
    assert targets_met(report)
