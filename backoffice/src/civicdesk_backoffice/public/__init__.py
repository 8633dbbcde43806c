"""The public reports page at ``/reports/``: published reports, approved photos, no personal data.

Public entry point: :func:`setup_public`, called by the application factory.
"""

from __future__ import annotations

from civicdesk_backoffice.public._app import setup_public

__all__ = ["setup_public"]
