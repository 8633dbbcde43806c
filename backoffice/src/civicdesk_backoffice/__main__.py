"""Command line of the back office: ``civicdesk-backoffice <command>``.

Commands: ``serve``, ``migrate``, ``load-catalogue``, ``api-key create|revoke|list``,
``staff create``, ``retention run`` and ``dev-bootstrap``. Settings come from
``BACKOFFICE__*`` environment variables (see ``settings.py``). Expected failures
(database down, schema not migrated, invalid catalogue, name taken) end with one line on
stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice import api_keys, log_ids, staff
from civicdesk_backoffice.access_log import RedactedAccessLogger, install_log_redaction
from civicdesk_backoffice.app import create_app
from civicdesk_backoffice.bootstrap import dev_bootstrap
from civicdesk_backoffice.catalogue import CatalogueError, load_catalogue
from civicdesk_backoffice.db import (
    create_engine,
    create_sessionmaker,
    ensure_sqlite_folder,
    is_database_unavailable,
    safe_url,
)
from civicdesk_backoffice.districts import DistrictsError, assign_missing, load_districts
from civicdesk_backoffice.models import ApiKey, StaffRole
from civicdesk_backoffice.retention import RetentionResult, strip_closed_contacts
from civicdesk_backoffice.schema import SchemaNotReadyError, check_schema, head_revision, migrate
from civicdesk_backoffice.settings import Settings

logger = logging.getLogger("civicdesk_backoffice")

PROGRAM = "civicdesk-backoffice"


_MAX_NAME_CHARS = 100  # the width of the name columns


class CommandError(Exception):
    """An expected failure, reported as one line without a traceback."""


Command = Callable[[Settings, argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns:
        The process exit code.
    """
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, issue['loc']))}: {issue['msg']}" for issue in error.errors()
        )
        print(f"{PROGRAM}: invalid settings: {problems}", file=sys.stderr)
        return 1
    # One-shot commands stay quiet (their result is printed); the server logs at the
    # configured level.
    quiet = args.command is not _serve and not args.verbose
    logging.basicConfig(
        level=logging.WARNING if quiet else settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    log_ids.configure(settings.log_hash_key.get_secret_value())
    if settings.own_log_level and not quiet:
        logging.getLogger("civicdesk_backoffice").setLevel(settings.own_log_level.upper())
    command: Command = args.command
    try:
        return command(settings, args)
    except (
        CommandError,
        CatalogueError,
        DistrictsError,
        SchemaNotReadyError,
        api_keys.ApiKeyNameTakenError,
        staff.StaffUserExistsError,
        staff.PasswordPolicyError,
    ) as error:
        print(f"{PROGRAM}: {error}", file=sys.stderr)
    except Exception as error:
        if not is_database_unavailable(error):
            raise
        detail = str(getattr(error, "orig", None) or error).splitlines()[0][:200]
        url = safe_url(settings.db.url.get_secret_value())
        print(f"{PROGRAM}: cannot reach the database at {url}: {detail}", file=sys.stderr)
    return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="CivicDesk back office. Settings come from BACKOFFICE__* variables.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log progress of one-shot commands"
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP server (loads the catalogue first)")
    serve.set_defaults(command=_serve)

    migrate_cmd = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate_cmd.set_defaults(command=_migrate)

    load = commands.add_parser("load-catalogue", help="load the service catalogue file")
    load.add_argument("--path", type=Path, help="catalogue file (default: the packaged one)")
    load.set_defaults(command=_load_catalogue)

    key = commands.add_parser("api-key", help="manage API keys of Open311 clients")
    key_commands = key.add_subparsers(title="api-key commands", required=True, metavar="ACTION")
    key_create = key_commands.add_parser("create", help="issue a key (printed once)")
    key_create.add_argument(
        "--name", required=True, type=_short_text, help="who the key is for, e.g. bot"
    )
    key_create.set_defaults(command=_api_key_create)
    key_revoke = key_commands.add_parser("revoke", help="revoke a key")
    key_revoke.add_argument("--name", required=True, type=_short_text)
    key_revoke.set_defaults(command=_api_key_revoke)
    key_list = key_commands.add_parser("list", help="list keys (prefixes only)")
    key_list.set_defaults(command=_api_key_list)

    staff_cmd = commands.add_parser("staff", help="manage staff accounts")
    staff_commands = staff_cmd.add_subparsers(
        title="staff commands", required=True, metavar="ACTION"
    )
    staff_create = staff_commands.add_parser(
        "create", help="add a staff member (password generated and printed unless piped in)"
    )
    staff_create.add_argument("--username", required=True, type=_short_text)
    staff_create.add_argument("--department", required=True, type=_short_text)
    staff_create.add_argument("--role", required=True, choices=[role.value for role in StaffRole])
    staff_create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    staff_create.set_defaults(command=_staff_create)

    retention = commands.add_parser("retention", help="apply the retention settings")
    retention_commands = retention.add_subparsers(
        title="retention commands", required=True, metavar="ACTION"
    )
    retention_run = retention_commands.add_parser(
        "run",
        help="remove contact details of tickets closed longer than the retention period",
    )
    retention_run.add_argument(
        "--days",
        type=int,
        help="the period in days (default: BACKOFFICE__RETENTION__CONTACT_DAYS)",
    )
    retention_run.set_defaults(command=_retention_run)

    districts_cmd = commands.add_parser("districts", help="the city's districts")
    districts_commands = districts_cmd.add_subparsers(
        title="districts commands", required=True, metavar="ACTION"
    )
    districts_assign = districts_commands.add_parser(
        "assign",
        help="give tickets without a district the one their place lies in "
        "(BACKOFFICE__DISTRICTS_PATH)",
    )
    districts_assign.set_defaults(command=_districts_assign)

    bootstrap = commands.add_parser(
        "dev-bootstrap",
        help="migrate, load the catalogue and write working dev credentials (idempotent)",
    )
    bootstrap.add_argument("--credentials-file", required=True, type=Path)
    bootstrap.set_defaults(command=_dev_bootstrap)
    return parser


def _short_text(value: str) -> str:
    """Argparse type: a non-empty, printable name of at most 100 characters."""
    value = value.strip()
    if not value or len(value) > _MAX_NAME_CHARS or not value.isprintable():
        raise argparse.ArgumentTypeError(f"must be 1 to {_MAX_NAME_CHARS} printable characters")
    return value


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on a migrated database, disposed of afterwards."""
    engine = create_engine(settings.db.url.get_secret_value())
    try:
        await check_schema(engine)
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


def _serve(settings: Settings, _args: argparse.Namespace) -> int:
    async def prepare() -> None:
        async with _database(settings) as sessionmaker:
            await load_catalogue(sessionmaker, settings.catalogue_path)

    asyncio.run(prepare())
    install_log_redaction()
    try:
        web.run_app(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            access_log_class=RedactedAccessLogger,
            print=logger.info,
        )
    except OSError as error:
        # Binding fails before any request; say so rather than blame the database.
        raise CommandError(f"cannot listen on {settings.host}:{settings.port}: {error}") from error
    return 0


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    url = settings.db.url.get_secret_value()

    async def run() -> None:
        ensure_sqlite_folder(url)
        engine = create_engine(url)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print(f"database {safe_url(url)} is at schema revision {head_revision()}")
    return 0


def _load_catalogue(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.path or settings.catalogue_path

    async def run() -> str:
        async with _database(settings) as sessionmaker:
            return (await load_catalogue(sessionmaker, path)).summary()

    print(f"loaded {path}: {asyncio.run(run())}")
    return 0


def _retention_run(settings: Settings, args: argparse.Namespace) -> int:
    days = args.days if args.days is not None else settings.retention.contact_days
    if days is None:
        raise CommandError(
            "retention is off: set BACKOFFICE__RETENTION__CONTACT_DAYS or pass --days"
        )
    if days < 1:
        raise CommandError("--days must be at least 1")

    async def run() -> RetentionResult:
        async with _database(settings) as sessionmaker:
            return await strip_closed_contacts(sessionmaker, days)

    result = asyncio.run(run())
    print(
        f"contact details removed from {result.tickets} ticket(s) closed before "
        f"{result.cutoff.isoformat(timespec='seconds')} ({days} days)"
    )
    return 0


def _districts_assign(settings: Settings, _args: argparse.Namespace) -> int:
    districts = load_districts(settings.districts_path)

    async def run() -> tuple[int, int]:
        async with _database(settings) as sessionmaker:
            return await assign_missing(sessionmaker, districts)

    looked, assigned = asyncio.run(run())
    print(f"{assigned} of {looked} ticket(s) without a district got one")
    return 0


def _api_key_create(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> str:
        async with _database(settings) as sessionmaker, sessionmaker.begin() as session:
            return await api_keys.create_api_key(session, args.name)

    key = asyncio.run(run())
    print(f"API key {args.name!r} created; it is shown only this once:", file=sys.stderr)
    print(key)
    return 0


def _api_key_revoke(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> bool:
        async with _database(settings) as sessionmaker, sessionmaker.begin() as session:
            return await api_keys.revoke_api_key(session, args.name)

    if not asyncio.run(run()):
        raise CommandError(f"there is no active API key named {args.name!r}")
    print(f"API key {args.name!r} revoked")
    return 0


def _api_key_list(settings: Settings, _args: argparse.Namespace) -> int:
    async def run() -> list[ApiKey]:
        async with _database(settings) as sessionmaker, sessionmaker() as session:
            return await api_keys.list_api_keys(session)

    rows = asyncio.run(run())
    if not rows:
        print("no API keys")
    for row in rows:
        state = "active" if row.revoked_at is None else f"revoked {row.revoked_at:%Y-%m-%d}"
        print(f"{row.name}\t{row.key_prefix}…\tcreated {row.created_at:%Y-%m-%d}\t{state}")
    return 0


def _staff_create(settings: Settings, args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        generated = False
    else:
        password = staff.generate_password()
        generated = True
    staff.check_password_policy(password)

    async def run() -> None:
        async with _database(settings) as sessionmaker, sessionmaker.begin() as session:
            await staff.create_staff_user(
                session, args.username, password, args.department, StaffRole(args.role)
            )

    asyncio.run(run())
    print(f"staff user {args.username!r} created ({args.role}, {args.department})")
    if generated:
        print(f"password (shown only this once): {password}")
    return 0


def _dev_bootstrap(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.credentials_file
    result = dev_bootstrap(settings, path)
    credentials = (
        "wrote new dev credentials to"
        if result.credentials_renewed
        else ("dev credentials still valid in")
    )
    print(
        f"dev-bootstrap: schema at revision {head_revision()}, "
        f"catalogue version {result.catalogue.version}; {credentials} {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
