"""Database errors, which a logged traceback carries, hold no statement values."""

from __future__ import annotations

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from civicdesk_backoffice.db import create_engine
from civicdesk_backoffice.models import Ticket, utcnow


async def test_a_failed_insert_does_not_show_the_values_it_held(db_url: str) -> None:
    engine = create_engine(db_url)
    now = utcnow()
    try:
        async with engine.begin() as connection:
            with pytest.raises(IntegrityError) as failure:
                await connection.execute(
                    insert(Ticket).values(
                        service_request_id="CD-LEAK01",
                        service_code="no_such_service",  # a foreign key that fails
                        status="new",
                        description="my neighbour Wang Fang shouts",
                        phone="+49 30 5550199",
                        email="wang.fang@example.org",
                        attributes={},
                        department="Street Lighting",
                        requested_at=now,
                        updated_at=now,
                    )
                )
    finally:
        await engine.dispose()
    message = str(failure.value)
    assert "INSERT INTO tickets" in message
    for value in ("+49 30 5550199", "wang.fang@example.org", "Wang Fang"):
        assert value not in message


def test_an_identity_is_tagged_by_its_conversation_id_with_the_shared_key() -> None:
    import hashlib
    import hmac

    from civicdesk_backoffice import log_ids

    log_ids.configure("shared-key")
    expected = hmac.new(b"shared-key", b"12345", hashlib.sha256).hexdigest()[:12]
    # The bot side's actions/observability.sender_tag gives this same value for this key.
    assert log_ids.sender_tag("telegram:12345") == f"s-{expected}"
    assert log_ids.sender_tag("12345") == f"s-{expected}"
    assert log_ids.sender_tag(None) == "s-none"
