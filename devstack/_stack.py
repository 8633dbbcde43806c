"""Start, watch and stop CivicDesk's three processes: back office, action server and Rasa.

`make run` uses this in the foreground; the end-to-end tests use the same code on free ports,
so what they exercise is exactly what a developer runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


RETENTION_INTERVAL_SECONDS = 6 * 3600.0
"""How often ``make run`` runs the bot side's retention (bot/retention.py)."""


class StackError(RuntimeError):
    """A process could not be started or did not become healthy."""


@dataclass(frozen=True)
class DevCredentials:
    """What a developer needs to talk to the back office (created by ``dev-bootstrap``)."""

    api_key: str
    staff_username: str
    staff_password: str


@dataclass(frozen=True)
class StackConfig:
    """Where things are and which ports to use.

    Attributes:
        var_dir: Local state: SQLite files, dev credentials, process logs.
        model_path: The trained Rasa model to serve.
        backoffice_port: Back office HTTP port.
        actions_port: Action server port.
        rasa_port: Rasa server port (REST channel at ``/webhooks/rest/webhook``).
        database_url: Back-office database; ``None`` takes ``BACKOFFICE__DB__URL`` from the
            environment, else the SQLite file in ``var_dir``.
        tracker_db_url: Rasa's conversations (SQLAlchemy URL); ``None`` takes
            ``CIVICDESK_TRACKER_DB_URL`` from the environment, else the SQLite file in
            ``var_dir``.
        environment: Extra variables for every child (from ``.env``); the process
            environment wins over them.
        startup_timeout_seconds: How long each process may take to become healthy.
        plain_rest: Add Rasa's unsigned REST channel to the channels of ``credentials.yml``;
            it lets anyone speak as any sender, so only this local stack turns it on.
    """

    var_dir: Path = ROOT / "var"
    model_path: Path = ROOT / "models" / "civicdesk.tar.gz"
    backoffice_port: int = 8000
    actions_port: int = 5055
    rasa_port: int = 5005
    database_url: str | None = None
    tracker_db_url: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    startup_timeout_seconds: float = 600.0
    plain_rest: bool = True

    @property
    def database_path(self) -> Path:
        return self.var_dir / "backoffice.sqlite3"

    @property
    def tracker_database_path(self) -> Path:
        return self.var_dir / "conversations.sqlite3"

    @property
    def credentials_path(self) -> Path:
        return self.var_dir / "dev-credentials.json"

    @property
    def backoffice_url(self) -> str:
        return f"http://127.0.0.1:{self.backoffice_port}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.actions_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"


def scratch_config(
    var_dir: Path, environment: Mapping[str, str] | None = None, *, plain_rest: bool = True
) -> StackConfig:
    """A stack that keeps everything under ``var_dir`` and listens on free ports, as the
    end-to-end tests and the simulated citizens run it beside a developer's ``make run``.

    ``environment`` is added to what every child process gets."""
    config = StackConfig()
    if not config.model_path.is_file():
        raise StackError(f"no trained model at {config.model_path}: run `make train` first")
    return StackConfig(
        var_dir=var_dir,
        database_url=f"sqlite+aiosqlite:///{var_dir / 'backoffice.sqlite3'}",
        tracker_db_url=f"sqlite:///{var_dir / 'conversations.sqlite3'}",
        backoffice_port=free_port(),
        actions_port=free_port(),
        rasa_port=free_port(),
        environment={
            "CIVICDESK_OUTBOX_PATH": str(var_dir / "outbox.sqlite3"),
            # Tests, simulated citizens and benchmarks type far faster than a person: the
            # per-sender limit stays on, set where only a runaway loop meets it.
            "CIVICDESK_RATE_LIMIT_PER_MINUTE": "6000",
            "CIVICDESK_RATE_LIMIT_BURST": "1000",
            **(environment or {}),
        },
        plain_rest=plain_rest,
    )


@dataclass
class _Child:
    """A started process and how it was started, so that it can be started again."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    health_url: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None


class Stack:
    """The running processes; a context manager that always stops what it started."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self._children: list[_Child] = []
        self.credentials: DevCredentials | None = None
        self.rasa_token: str | None = None

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Bootstrap the back office, then start each process and wait until it is healthy."""
        config = self.config
        if not config.model_path.is_file():
            raise StackError(f"no trained model at {config.model_path}: run `make train` first")
        for executable in (_backoffice_cli(), _root_python()):
            if not executable.exists():
                raise StackError(f"{executable} is missing: run `make install` first")
        for name, port in (
            ("back office", config.backoffice_port),
            ("action server", config.actions_port),
            ("Rasa", config.rasa_port),
        ):
            check_port_free(name, port)
        (config.var_dir / "logs").mkdir(parents=True, exist_ok=True)

        # Rasa's HTTP API (status, proactive trigger_intent) is on, behind a per-run token.
        # The back office's outbox relay and the action server push through it, so the token
        # exists before the first of them starts.
        self.rasa_token = secrets.token_urlsafe(24)
        backoffice_env = self._backoffice_env()
        bootstrap = subprocess.run(
            [
                str(_backoffice_cli()),
                "dev-bootstrap",
                "--credentials-file",
                str(config.credentials_path),
            ],
            env=backoffice_env,
            cwd=ROOT / "backoffice",
            capture_output=True,
            timeout=120,
            check=False,
        )
        if bootstrap.returncode != 0:
            raise StackError(
                "back office bootstrap failed:\n" + bootstrap.stderr.decode(errors="replace")
            )
        self.credentials = _read_credentials(config.credentials_path)
        action_token = secrets.token_urlsafe(24)

        self._spawn(
            "backoffice",
            [str(_backoffice_cli()), "serve"],
            backoffice_env,
            cwd=ROOT / "backoffice",
            health_url=f"{config.backoffice_url}/healthz",
        )

        # The action server pushes a queued request's reference through Rasa's HTTP API.
        actions_env = self._env(
            CIVICDESK_RASA_URL=config.rasa_url,
            CIVICDESK_RASA_TOKEN=self.rasa_token,
            CIVICDESK_BACKOFFICE_URL=config.backoffice_url,
            CIVICDESK_BACKOFFICE_API_KEY=self.credentials.api_key,
            CIVICDESK_ACTION_TOKEN=action_token,
            CIVICDESK_ACTIONS_HOST="127.0.0.1",
            CIVICDESK_ACTIONS_PORT=str(config.actions_port),
            # Submissions waiting for the back office survive restarts in this file.
            CIVICDESK_OUTBOX_PATH=self._outbox_path(),
        )
        self._spawn(
            "actions",
            [str(_root_python()), "-m", "actions"],
            actions_env,
            cwd=ROOT,
            health_url=f"{config.actions_url}/health",
        )

        self._spawn(
            "rasa",
            [
                str(_root_python()),
                "-m",
                "rasa",
                "run",
                "--model",
                str(config.model_path),
                "--endpoints",
                "endpoints.yml",
                "--credentials",
                str(self._write_rasa_credentials()),
                "--interface",
                "127.0.0.1",
                "--port",
                str(config.rasa_port),
                "--enable-api",
                # One argument: a token may start with "-", which argparse would take for a flag.
                f"--auth-token={self.rasa_token}",
            ],
            self._rasa_env(action_token),
            cwd=ROOT,
            # Rasa answers `/` before its model is loaded, and until then every chat message
            # gets an empty reply; /status answers 200 only once an agent with a model is ready.
            health_url=f"{config.rasa_url}/status?token={self.rasa_token}",
        )

    def stop(self, timeout_seconds: float = 15.0) -> None:
        """Stop the processes in reverse order: interrupt, wait, then kill what is left."""
        _terminate(list(reversed(self._children)), timeout_seconds)
        self._children.clear()

    def restart(self, *names: str, timeout_seconds: float = 15.0, kill: bool = False) -> None:
        """Stop the named processes (in reverse start order) and start them again as they were
        started, each healthy before the next; their logs go on in the same files.

        ``kill`` ends them with SIGKILL at once, as a crash would, instead of asking them to
        stop."""
        self.halt(*names, timeout_seconds=timeout_seconds, kill=kill)
        self.resume(*names)

    def halt(self, *names: str, timeout_seconds: float = 15.0, kill: bool = False) -> None:
        """Stop the named processes and leave them stopped until :meth:`resume` (fault tests:
        a back office that is down for a while).

        Without ``kill`` each gets SIGTERM, then SIGKILL after ``timeout_seconds``; with it,
        SIGKILL at once, so nothing it held in memory is saved (a crash). Only the process
        groups this stack started are signalled."""
        children = self._named(names)
        if kill:
            for child in children:
                if child.process is not None and child.process.poll() is None:
                    _signal_group(child.process, signal.SIGKILL)
            for child in children:
                if child.process is not None:
                    child.process.wait(timeout=timeout_seconds)
        else:
            _terminate(list(reversed(children)), timeout_seconds)

    def resume(self, *names: str) -> None:
        """Start the named processes again as they were started (after :meth:`halt`, or after
        they died), each healthy before the next; their logs go on in the same files."""
        children = self._named(names)
        running = [c.name for c in children if c.process is not None and c.process.poll() is None]
        if running:
            raise StackError(f"still running, halt first: {', '.join(running)}")
        for child in children:
            self._launch(child, log_mode="ab")
            self._wait_healthy(child)

    def _named(self, names: tuple[str, ...]) -> list[_Child]:
        """The children called ``names``, in start order."""
        children = [child for child in self._children if child.name in names]
        unknown = set(names) - {child.name for child in children}
        if unknown:
            raise StackError(f"no process named {', '.join(sorted(unknown))}")
        return children

    def exited(self) -> list[tuple[str, int]]:
        """Names and exit codes of processes that have stopped on their own."""
        return [
            (child.name, code)
            for child in self._children
            if child.process is not None and (code := child.process.poll()) is not None
        ]

    def pids(self) -> dict[str, int]:
        """The process id of each running part, by name (each leads its own process group)."""
        return {
            child.name: child.process.pid for child in self._children if child.process is not None
        }

    def log_path(self, name: str) -> Path:
        return self.config.var_dir / "logs" / f"{name}.log"

    def log_tail(self, name: str, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path(name).read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def _write_rasa_credentials(self) -> Path:
        """The channels of ``credentials.yml``, plus the unsigned REST channel if asked for."""
        text = (ROOT / "credentials.yml").read_text()
        if self.config.plain_rest:
            text += (
                "\n# Added by devstack for local development and tests only: Rasa's REST"
                " wire format,\n# malformed bodies refused with a reason (channels/rest/).\n"
                "channels.rest.RestInput:\n"
            )
        path = self.config.var_dir / "rasa-credentials.yml"
        path.write_text(text)
        return path

    def run_retention(self, timeout_seconds: float = 600.0) -> int:
        """Run the bot side's retention once (``python -m bot.retention``) on this stack's
        conversations and outbox, appending to ``logs/retention.log``; its exit code.

        ``make run`` calls it at start and every :data:`RETENTION_INTERVAL_SECONDS`; the
        period is ``CIVICDESK_RETENTION_DAYS`` (30 days by default)."""
        self.log_path("retention").parent.mkdir(parents=True, exist_ok=True)
        with self.log_path("retention").open("ab") as log:
            try:
                return subprocess.run(
                    [str(_root_python()), "-m", "bot.retention"],
                    env=self._rasa_env(""),
                    cwd=ROOT,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=timeout_seconds,
                    check=False,
                ).returncode
            except subprocess.TimeoutExpired:
                logger.warning("retention did not finish in %.0f s", timeout_seconds)
                return -1

    def _outbox_path(self) -> str:
        return self._configured("CIVICDESK_OUTBOX_PATH") or str(
            self.config.var_dir / "outbox.sqlite3"
        )

    def _rasa_env(self, action_token: str) -> dict[str, str]:
        credentials = self.credentials
        return self._env(
            # Erasure and retention reach the action server's outbox in this same file.
            CIVICDESK_OUTBOX_PATH=self._outbox_path(),
            # The back office's erasure calls Rasa's erase route with the token it holds for
            # Rasa (BACKOFFICE__RASA__TOKEN), so one staff action erases a citizen everywhere.
            CIVICDESK_ERASURE_TOKEN=self._configured("CIVICDESK_ERASURE_TOKEN")
            or self.rasa_token
            or "",
            CIVICDESK_ACTION_ENDPOINT_URL=f"{self.config.actions_url}/webhook",
            CIVICDESK_ACTION_TOKEN=action_token,
            # Channels upload citizens' photos to the back office's media endpoint.
            CIVICDESK_BACKOFFICE_URL=self.config.backoffice_url,
            CIVICDESK_BACKOFFICE_API_KEY=credentials.api_key if credentials else "",
            # Conversations survive restarts of Rasa and of the action server in this file.
            CIVICDESK_TRACKER_DB_URL=self.config.tracker_db_url
            or self._configured("CIVICDESK_TRACKER_DB_URL")
            or f"sqlite:///{self.config.tracker_database_path}",
        )

    def _backoffice_env(self) -> dict[str, str]:
        return self._env(
            BACKOFFICE__DB__URL=self.config.database_url
            or self._configured("BACKOFFICE__DB__URL")
            or f"sqlite+aiosqlite:///{self.config.database_path}",
            # Photos live with the rest of this stack's state, outside any static root.
            BACKOFFICE__MEDIA_DIR=self._configured("BACKOFFICE__MEDIA_DIR")
            or str(self.config.var_dir / "media"),
            BACKOFFICE__HOST="127.0.0.1",
            BACKOFFICE__PORT=str(self.config.backoffice_port),
            # The outbox relay pushes ticket updates to citizens' chats through Rasa.
            BACKOFFICE__RASA__URL=self.config.rasa_url,
            BACKOFFICE__RASA__TOKEN=self.rasa_token or "",
        )

    def _configured(self, name: str) -> str | None:
        """A value set in the shell or in ``.env``, the shell winning."""
        return os.environ.get(name) or self.config.environment.get(name) or None

    def _env(self, **values: str) -> dict[str, str]:
        env = {**self.config.environment, **os.environ, **values}
        # Each child runs in its own environment; do not leak the parent's virtualenv.
        env.pop("VIRTUAL_ENV", None)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str], cwd: Path, health_url: str
    ) -> None:
        """Start a process and wait until it is healthy."""
        child = _Child(name, argv, env, cwd, health_url, self.log_path(name))
        self._children.append(child)
        self._launch(child, log_mode="wb")
        self._wait_healthy(child)

    def _launch(self, child: _Child, log_mode: str) -> None:
        with child.log_path.open(log_mode) as log:
            child.process = subprocess.Popen(
                child.argv,
                cwd=child.cwd,
                env=child.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own process group: Ctrl-C reaches only the supervisor, which then stops
                # the children in order instead of all at once.
                start_new_session=True,
                # And if the supervisor dies without stopping them (killed, out of memory),
                # the kernel stops them: no orphan keeps the ports and an old token. The
                # kernel's signal follows the *thread* that started the child, so a child
                # started from another thread (a fault test restarting a part while its
                # citizens talk) would be stopped when that thread ends: there it is not set.
                preexec_fn=end_with_parent(os.getpid())
                if threading.current_thread() is threading.main_thread()
                else None,
            )

    def _wait_healthy(self, child: _Child) -> None:
        deadline = time.monotonic() + self.config.startup_timeout_seconds
        while time.monotonic() < deadline:
            code = child.process.poll() if child.process is not None else -1
            if code is not None:
                raise StackError(
                    f"{child.name} exited with code {code} while starting; last log lines:\n"
                    + self.log_tail(child.name)
                )
            if _http_ok(child.health_url):
                return
            time.sleep(0.25)
        raise StackError(
            f"{child.name} was not healthy at {child.health_url.split('?')[0]} after"
            f" {self.config.startup_timeout_seconds:.0f} s;"
            f" last log lines:\n{self.log_tail(child.name)}"
        )


def _terminate(children: list[_Child], timeout_seconds: float) -> None:
    """Interrupt ``children`` in the order given, wait, then kill what is left."""
    processes = [(child.name, child.process) for child in children if child.process is not None]
    for _, process in processes:
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout_seconds
    for name, process in processes:
        remaining = max(0.1, deadline - time.monotonic())
        try:
            process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop in time; killing it", name)
            _signal_group(process, signal.SIGKILL)
            process.wait()


def _backoffice_cli() -> Path:
    return ROOT / "backoffice" / ".venv" / "bin" / "civicdesk-backoffice"


def _root_python() -> Path:
    return ROOT / ".venv" / "bin" / "python"


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (local URL)
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError):
        return False


def _read_credentials(path: Path) -> DevCredentials:
    try:
        data = json.loads(path.read_text())
        return DevCredentials(
            api_key=str(data["api_key"]),
            staff_username=str(data["staff_username"]),
            staff_password=str(data["staff_password"]),
        )
    except (OSError, ValueError, KeyError) as error:
        raise StackError(f"cannot read dev credentials from {path}: {error}") from error


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def end_with_parent(parent: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child sent SIGTERM when ``parent`` dies (Linux only;
    elsewhere None, and only a clean stop of the supervisor stops the children)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)

    return preexec


def check_port_free(name: str, port: int) -> None:
    """Raise :class:`StackError` naming the process that holds ``port``, if one does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            pass
        else:
            return
    holder = port_holder(port)
    raise StackError(
        f"port {port} for the {name} is in use"
        + (f" by process {holder[0]} ({holder[1]})" if holder else "")
        + ": stop that process (an earlier `make run` that did not end?) or choose another"
        " port in .env"
    )


def port_holder(port: int) -> tuple[int, str] | None:
    """``(pid, command line)`` of the process listening on TCP ``port``, where /proc tells."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # LISTEN
                    inodes.add(f"socket:[{inode}]")
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    raw = (entry / "cmdline").read_bytes().decode(errors="replace")
                    return int(entry.name), " ".join(raw.replace("\0", " ").split())[:200]
    return None


_GIVEN_PORTS: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for tests running their own stack).

    It is taken below the kernel's ephemeral range: a port from that range (what binding port
    0 gives) can be handed to some process's outgoing connection in the seconds before Rasa
    binds it, and Rasa then fails with "address already in use"."""
    low = _ephemeral_ports()[0]
    chance = secrets.SystemRandom()
    for _ in range(200):
        port = chance.randrange(max(1024, low - 12000), low)
        if port in _GIVEN_PORTS:  # given to a stack not yet listening on it
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            _GIVEN_PORTS.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ephemeral_ports() -> tuple[int, int]:
    """The kernel's range for outgoing connections' ports (32768-60999 by default)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of a ``.env`` file; blank lines and ``#`` comments are skipped."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values
