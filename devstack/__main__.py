"""`make run`: start back office, action server and Rasa; print where they are; stop on Ctrl-C."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from types import FrameType

from devstack._stack import (
    RETENTION_INTERVAL_SECONDS,
    ROOT,
    Stack,
    StackConfig,
    StackError,
    read_env_file,
)


def _port(environment: dict[str, str], name: str, default: int) -> int:
    raw = os.environ.get(name) or environment.get(name) or str(default)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SystemExit(f"{name}={raw!r} is not a port number (1-65535)")
    return int(raw)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    environment = read_env_file(ROOT / ".env")
    config = StackConfig(
        backoffice_port=_port(environment, "BACKOFFICE__PORT", 8000),
        actions_port=_port(environment, "CIVICDESK_ACTIONS_PORT", 5055),
        rasa_port=_port(environment, "CIVICDESK_RASA_PORT", 5005),
        environment=environment,
    )
    # `kill` should stop the children as cleanly as Ctrl-C does; SIGINT is set explicitly
    # because a shell that starts us in the background hands it down ignored.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)
    stack = Stack(config)
    try:
        print("Starting back office, action server and Rasa (the model takes a moment to load)...")
        with stack:
            credentials = stack.credentials
            if credentials is None:
                raise StackError("the back office gave no development credentials")
            print(
                "\nCivicDesk is running:\n"
                f"  web chat page      {config.rasa_url}/webhooks/webchat/\n"
                f"  chat (Rasa REST)   POST {config.rasa_url}/webhooks/rest/webhook\n"
                f"  back office        {config.backoffice_url}/open311/v2/services.json\n"
                f"  action server      {config.actions_url}/health\n"
                f"  logs               {config.var_dir / 'logs'}/\n"
                "\nDevelopment credentials (local only, kept in "
                f"{config.credentials_path.relative_to(ROOT)}):\n"
                f"  Open311 api_key    {credentials.api_key}\n"
                f"  staff login        {credentials.staff_username} / "
                f"{credentials.staff_password}\n"
                "\nTry:\n"
                f"  curl -s {config.rasa_url}/webhooks/rest/webhook -H 'Content-Type: "
                'application/json\' -d \'{"sender": "me", "message": "report a problem"}\'\n'
                "\nPress Ctrl-C to stop everything.",
                flush=True,
            )
            # Conversations idle past the retention period go, as a cron job would remove
            # them in production (bot/retention.py); now, then every few hours.
            next_retention = time.monotonic()
            while not (exited := stack.exited()):
                if time.monotonic() >= next_retention:
                    if stack.run_retention() != 0:
                        print(f"retention failed: see {stack.log_path('retention')}")
                    next_retention = time.monotonic() + RETENTION_INTERVAL_SECONDS
                time.sleep(0.5)
            name, code = exited[0]
            print(f"\n{name} stopped unexpectedly (exit code {code}); last log lines:")
            print(stack.log_tail(name))
            print("Stopping the others.")
            return 1
    except KeyboardInterrupt:
        print("\nStopping... done.")
        return 0
    except StackError as error:
        print(f"make run failed: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
