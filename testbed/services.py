"""Start and stop real PostgreSQL and Mosquitto processes on free loopback ports.

One implementation for everything that needs its own services: the test suite,
the benchmarks and `anxin demo`. No Docker, no mocks.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path


class ServiceError(RuntimeError):
    """A local service could not be started."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(
    port: int, *, timeout: float, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            msg = f"process exited with {proc.returncode} before listening on {port}"
            raise ServiceError(msg)
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    msg = f"nothing listening on 127.0.0.1:{port} after {timeout}s"
    raise ServiceError(msg)


def mosquitto_config_text() -> str:
    return (resources.files("anxin") / "mosquitto.conf").read_text()


@dataclass
class Mosquitto:
    """A Mosquitto broker with the project's config, on its own port and data folder."""

    workdir: Path
    port: int = field(default_factory=free_port)
    executable: str = "mosquitto"
    # the tests' and the demo's broker takes anyone; the shipped config takes no one
    # until `anxin devices export-mosquitto`'s lines are added
    auth: str = "allow_anonymous true\n"
    # a complete configuration to start with instead (what export-mosquitto writes)
    config: Path | None = None
    _proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def find() -> str | None:
        return shutil.which("mosquitto")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> Mosquitto:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.config or self.workdir / "mosquitto.conf"
        if self.config is None:
            conf.write_text(
                mosquitto_config_text()
                + f"\nlistener {self.port} 127.0.0.1\n"
                + self.auth
                + f"persistence_location {self.workdir}/\n"
                + f"log_dest file {self.workdir}/mosquitto.log\n"
            )
            if os.geteuid() == 0:
                # Mosquitto drops root privileges to its own user, which must own the data.
                _chown_to(self.workdir, "mosquitto")
        log = (self.workdir / "stderr.log").open("ab")
        self._proc = subprocess.Popen(
            [self.executable, "-c", str(conf)], stdout=log, stderr=log, start_new_session=True
        )
        wait_for_port(self.port, timeout=10, proc=self._proc)
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def kill(self) -> None:
        """SIGKILL: no chance to save what arrived since the last autosave."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None


def postgres_bindir() -> Path | None:
    """The server binaries of the machine's PostgreSQL, if it has any."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        bindir = Path(out.stdout.strip())
        if (bindir / "postgres").exists() and (bindir / "initdb").exists():
            return bindir
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return next((c for c in candidates if (c / "initdb").exists()), None)


def timescaledb_available(bindir: Path) -> bool:
    out = subprocess.run(
        [str(bindir / "pg_config"), "--sharedir"], capture_output=True, text=True, check=False
    )
    sharedir = Path(out.stdout.strip()) if out.returncode == 0 else None
    if sharedir is None:
        # Debian's server bindir has no pg_config; the version is the folder name.
        sharedir = Path("/usr/share/postgresql") / bindir.parent.name
    return (sharedir / "extension" / "timescaledb.control").exists()


@dataclass
class PostgresCluster:
    """A throw-away PostgreSQL cluster: initdb into a folder, listen on a free port."""

    datadir: Path
    bindir: Path
    port: int = field(default_factory=free_port)
    timescaledb: bool = True
    user: str = "postgres"

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if os.geteuid() == 0:
            # initdb and postgres refuse to run as root.
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            msg = f"{Path(args[0]).name} failed: {res.stderr.strip() or res.stdout.strip()}"
            raise ServiceError(msg)

    def start(self) -> PostgresCluster:
        if not (self.datadir / "PG_VERSION").exists():
            self.datadir.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                _chown_to(self.datadir, "postgres")
            self._run(
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            )
            lines = [
                "listen_addresses = '127.0.0.1'",
                f"port = {self.port}",
                f"unix_socket_directories = '{self.datadir}'",
                "max_connections = 200",
            ]
            if self.timescaledb:
                lines += [
                    "shared_preload_libraries = 'timescaledb'",
                    "timescaledb.telemetry_level = off",
                ]
            with (self.datadir / "postgresql.conf").open("a") as conf:
                conf.write("\n" + "\n".join(lines) + "\n")
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.datadir / "server.log"),
            "start",
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.datadir / "postmaster.pid").exists():
            self._run(
                str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-w", "-m", mode, "stop"
            )

    @property
    def postmaster_pid(self) -> int | None:
        pidfile = self.datadir / "postmaster.pid"
        return int(pidfile.read_text().split()[0]) if pidfile.exists() else None

    def kill(self) -> None:
        """Stop the postmaster the hard way (a crash, as far as clients can tell)."""
        pid = self.postmaster_pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _chown_to(path: Path, user: str) -> None:
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return
    for p in [path, *path.rglob("*")]:
        os.chown(p, entry.pw_uid, entry.pw_gid)
    # runuser'd processes must reach the folder through its parents; only ever widened
    # inside the temporary folder, never in a home directory.
    tmp = Path(tempfile.gettempdir()).resolve()
    for parent in path.resolve().parents:
        if parent == tmp or tmp not in parent.parents:
            break
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)
