"""The staff console at ``/staff/``: server-rendered pages for back-office staff.

Public entry point: :func:`setup_console`, called by the application factory.
"""

from __future__ import annotations

from civicdesk_backoffice.console._app import setup_console

__all__ = ["setup_console"]
