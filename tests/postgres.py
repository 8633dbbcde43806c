"""The machine's PostgreSQL for tests that need their own scratch database."""

from __future__ import annotations

from typing import Any

import psycopg2

PG: dict[str, Any] = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def pg_admin(statement: str) -> None:
    """Run ``statement`` (CREATE or DROP DATABASE) outside a transaction, as the admin."""
    connection = psycopg2.connect(dbname="postgres", **PG)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()
