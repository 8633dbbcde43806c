"""A PostgreSQL cluster of the fault tests' own, which they may stop and start at will.

The machine's server on 5432 is shared by everyone's tests and must never be restarted, so
"PostgreSQL restarts" happens to a cluster made for the run: ``initdb`` into a scratch
folder, served by ``pg_ctl`` on a free port of 127.0.0.1 with trust authentication. initdb
refuses to run as root, so as root every PostgreSQL command runs as the ``postgres`` user
(``runuser``); the folder is given to that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import psycopg2

from devstack import free_port

SUPERUSER = "postgres"


class ClusterError(RuntimeError):
    """The private cluster could not be made, started or stopped."""


def _bin_dir() -> Path:
    """The newest installed PostgreSQL's programs (Debian keeps them per major version)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if not found:
        on_path = shutil.which("initdb")
        if on_path is None:
            raise ClusterError("no initdb found (Debian: apt-get install postgresql)")
        return Path(on_path).parent
    return found[-1].parent


class PrivatePostgres:
    """One throw-away cluster; a context manager that always stops it and removes its files.

    Args:
        port: The TCP port on 127.0.0.1; a free one by default.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._bin = _bin_dir()
        self._root = Path(tempfile.mkdtemp(prefix="civicdesk-faults-pg-"))
        self.data_dir = self._root / "data"
        self.log_path = self._root / "postgres.log"
        self._as_other_user = os.geteuid() == 0
        self.restarts = 0

    def __enter__(self) -> PrivatePostgres:
        try:
            self.create()
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def url(self, database: str, driver: str = "postgresql") -> str:
        """A SQLAlchemy URL of ``database`` on this cluster (``driver``: e.g.
        ``postgresql+asyncpg`` for the back office)."""
        return f"{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create(self) -> None:
        """``initdb`` the data folder (trust authentication, UTF-8)."""
        if self._as_other_user:
            account = pwd.getpwnam(SUPERUSER)
            os.chown(self._root, account.pw_uid, account.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",  # a scratch cluster: speed over surviving a power cut
        )

    def start(self) -> None:
        """Serve on 127.0.0.1 only (no Unix socket), and wait until it takes connections."""
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-o",
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
            " -c fsync=off -c max_connections=200",
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` ends every session at once (what a restart does to its
        clients), ``immediate`` is a crash without a shutdown checkpoint."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, down_seconds: float = 5.0, mode: str = "fast") -> None:
        """Stop, stay down ``down_seconds``, start again: every client loses its connections."""
        self.stop(mode)
        time.sleep(down_seconds)
        self.start()
        self.restarts += 1

    def create_database(self, name: str) -> None:
        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres"
        )
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()

    def running(self) -> bool:
        completed = subprocess.run(
            self._argv("pg_ctl", "-D", str(self.data_dir), "status"),
            capture_output=True,
            timeout=30,
            check=False,
        )
        return completed.returncode == 0

    def close(self) -> None:
        """Stop the server if it runs, then remove the folder."""
        try:
            if self.data_dir.is_dir() and self.running():
                self.stop("fast")
        finally:
            shutil.rmtree(self._root, ignore_errors=True)

    def _argv(self, program: str, *args: str) -> list[str]:
        argv = [str(self._bin / program), *args]
        if self._as_other_user:
            argv = ["runuser", "-u", SUPERUSER, "--", *argv]
        return argv

    def _run(self, program: str, *args: str) -> None:
        completed = subprocess.run(
            self._argv(program, *args),
            capture_output=True,
            timeout=120,
            check=False,
            cwd=self._root if self._as_other_user else None,
        )
        if completed.returncode != 0:
            log = (
                self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            )
            raise ClusterError(
                f"{program} failed ({completed.returncode}): "
                f"{completed.stderr.decode(errors='replace')[-2000:]}\n{log}"
            )
