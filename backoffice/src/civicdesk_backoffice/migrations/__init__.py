"""Alembic migrations of the back-office schema, run by ``civicdesk-backoffice migrate``."""
