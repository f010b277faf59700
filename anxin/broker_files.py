"""The broker's own files, as `anxin devices export-mosquitto` writes them: a complete
Mosquitto configuration (the project's settings, a listener, where to persist, the
dynamic-security plugin) and the plugin's accounts and rules.

Debian's Mosquitto starts as root and drops to its own user (`mosquitto`) before it
loads the plugin, which then reads its file, and writes it back when the rules change,
as that user: a file only root may read leaves a broker that runs and refuses everyone.
So the folder and the accounts file belong to the broker's user (0700 and 0600: the
password hashes stay with the broker), and a machine where that cannot be done is told
so in one line."""

import os
import pwd
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from kernel.errors import Invalid
from kernel.os_words import os_reason

DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
ACCOUNTS = "dynamic-security.json"
CONFIG = "mosquitto.conf"


@dataclass(frozen=True)
class BrokerFiles:
    out: Path  # the folder: the accounts file and the configuration
    user: str = "mosquitto"  # who the broker runs as
    listener: str = "1883"  # `port` or `port address`, as Mosquitto's listener line
    data: Path = Path("/var/lib/mosquitto")  # persistence, owned by the broker's user

    def write(self, accounts_json: str) -> str:
        """Write both files for the broker's user; what was written, in one line."""
        owner = self._owner()
        self._folder(owner)
        for folder in (self.out, self.data):
            self._reachable(folder)
        accounts = self.out / ACCOUNTS
        self._file(accounts, accounts_json, owner, 0o600)
        config = self.out / CONFIG
        self._file(config, self.config_text(), None, 0o644)
        return (
            f"wrote {accounts} (readable by {self.user} only) and {config}, a complete"
            f" configuration: start the broker with `mosquitto -c {config}`"
        )

    def config_text(self) -> str:
        shipped = (resources.files("anxin") / "mosquitto.conf").read_text()
        return (
            "# Written by `anxin devices export-mosquitto`: a complete configuration.\n"
            f"# Start the broker with: mosquitto -c {self.out / CONFIG}\n\n"
            f"{shipped}\n"
            "# Every client logs in; each device may publish only its own topics, read only\n"
            "# its command topic, and connect only with its own client id.\n"
            "per_listener_settings false\n"
            f"listener {self.listener}\n"
            f"user {self.user}\n"
            f"persistence_location {str(self.data).rstrip('/')}/\n"
            f"plugin {DYNSEC_PLUGIN}\n"
            f"plugin_opt_config_file {(self.out / ACCOUNTS).resolve()}\n"
        )

    def _owner(self) -> tuple[int, int] | None:
        """The broker user's ids to give the files to; None when they are ours already."""
        try:
            entry = pwd.getpwnam(self.user)
        except KeyError:
            msg = f"no user {self.user!r} on this machine: name the broker's with --broker-user"
            raise Invalid(msg) from None
        if entry.pw_uid == os.geteuid():
            return None
        if os.geteuid() != 0:
            msg = (
                f"the broker runs as {self.user!r}, who could not read the accounts file"
                " written by this user: run as root, or pass --broker-user with yours"
            )
            raise Invalid(msg)
        return entry.pw_uid, entry.pw_gid

    def _folder(self, owner: tuple[int, int] | None) -> None:
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            self.data.mkdir(parents=True, exist_ok=True)
            for folder in (self.out, self.data):
                if owner is not None:
                    os.chown(folder, *owner)
            # the plugin writes its file anew beside the old one: the folder is the broker's
            self.out.chmod(0o700)
        except OSError as exc:
            msg = f"cannot prepare {str(self.out)!r} for the broker: {os_reason(exc)}"
            raise Invalid(msg) from exc

    def _reachable(self, folder: Path) -> None:
        """Every folder above `folder` lets the broker's user through, or one line."""
        entry = pwd.getpwnam(self.user)
        for parent in folder.resolve().parents:
            st = parent.stat()
            through = (
                st.st_mode & 0o001
                or (st.st_uid == entry.pw_uid and st.st_mode & 0o100)
                or (st.st_gid == entry.pw_gid and st.st_mode & 0o010)
            )
            if not through:
                msg = (
                    f"the broker's user {self.user!r} cannot reach {str(folder)!r}:"
                    f" {str(parent)!r} is closed to it (chmod o+x, or choose another --out)"
                )
                raise Invalid(msg)

    def _file(self, path: Path, text: str, owner: tuple[int, int] | None, mode: int) -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(path, mode)
            if owner is not None:
                os.chown(path, *owner)
        except OSError as exc:
            msg = f"cannot write {str(path)!r}: {os_reason(exc)}"
            raise Invalid(msg) from exc
