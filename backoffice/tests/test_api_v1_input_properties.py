"""Property tests of the ``/api/v1/`` extensions: no input gets a 5xx, refusals are clear."""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import quote

from aiohttp import FormData
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from civicdesk_backoffice.models import StaffRole
from tests.conftest import StaffFactory, file_request

Client = TestClient[Any, Any]


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 90, 0)).save(out, format="PNG")
    return out.getvalue()


_PNG = _png()

FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
json_bodies = (
    st.dictionaries(
        st.sampled_from(
            [
                "status",
                "note",
                "body",
                "visibility",
                "department",
                "assignee",
                "duplicate_of",
                "reason",
                "rating",
                "comment",
                "message",
                "service_request_id",
                "text",
                "media_id",
                "x",
            ]
        ),
        json_values
        | st.sampled_from(
            ["resolved", "closed", "duplicate", "public", "internal", "Street Lighting", "ann"]
        )
        | st.integers(min_value=0, max_value=6),
        max_size=4,
    )
    | json_values
)


async def check(response: Any) -> None:
    """A success, or a 4xx ``{"error": {"code", "message"}}`` with a short message."""
    if response.status < 300:
        return
    body = await response.text()
    assert 400 <= response.status < 500, (response.status, body[:300])
    error = json.loads(body)["error"]
    assert error["message"].strip()
    assert len(error["message"]) <= 400


@FUZZ
@given(body=json_bodies, action=st.sampled_from(["status", "comments", "assignment"]))
async def test_staff_changes_with_random_json_never_5xx(
    client: Client, api_key: str, make_staff: StaffFactory, body: Any, action: str
) -> None:
    reference, sue = await _ticket_and_supervisor(client, api_key, make_staff)
    response = await client.post(
        f"/api/v1/staff/tickets/{reference}/{action}", json=body, headers=sue.headers
    )
    await check(response)


@FUZZ
@given(identity=st.text(max_size=80), reference=st.text(max_size=20), body=json_bodies)
async def test_citizen_endpoints_with_random_identities_never_5xx(
    client: Client, api_key: str, identity: str, reference: str, body: Any
) -> None:
    key = {"X-API-Key": api_key}
    base = f"/api/v1/citizens/{quote(identity, safe='')}/tickets"
    await check(await client.get(base, headers=key))
    await check(await client.get(f"{base}/{quote(reference, safe='')}", headers=key))
    await check(
        await client.post(f"{base}/{quote(reference, safe='')}/comments", json=body, headers=key)
    )


@FUZZ
@given(body=json_bodies, action=st.sampled_from(["withdraw", "reopen", "rating"]))
async def test_citizen_changes_with_random_json_never_5xx(
    client: Client, api_key: str, make_staff: StaffFactory, body: Any, action: str
) -> None:
    reference, _ = await _ticket_and_supervisor(client, api_key, make_staff)
    response = await client.post(
        f"/api/v1/citizens/telegram:12345/tickets/{reference}/{action}",
        json=body,
        headers={"X-API-Key": api_key},
    )
    await check(response)


@FUZZ
@given(
    body=json_bodies,
    media_id=st.sampled_from(["uploaded", "A" * 22, "", "../../etc"]) | st.text(max_size=30),
    text=st.none() | st.text(max_size=30),
)
async def test_citizen_photo_comments_with_random_input_never_5xx(
    client: Client, api_key: str, make_staff: StaffFactory, body: Any, media_id: str, text: Any
) -> None:
    reference, _ = await _ticket_and_supervisor(client, api_key, make_staff)
    if media_id == "uploaded":
        form = FormData()
        form.add_field("file", _PNG, filename="p.png", content_type="image/png")
        upload = await client.post("/api/v1/media", data=form, headers={"X-API-Key": api_key})
        media_id = (await upload.json())["media_id"]
    payload = {**body, "media_id": media_id, "body": text} if isinstance(body, dict) else body
    response = await client.post(
        f"/api/v1/citizens/telegram:12345/tickets/{reference}/comments",
        json=payload,
        headers={"X-API-Key": api_key},
    )
    await check(response)


@FUZZ
@given(identity=st.text(max_size=80), body=json_bodies, raw=st.binary(max_size=200))
async def test_handoffs_with_random_input_never_5xx(
    client: Client, api_key: str, make_staff: StaffFactory, identity: str, body: Any, raw: bytes
) -> None:
    reference, sue = await _ticket_and_supervisor(client, api_key, make_staff)
    key = {"X-API-Key": api_key}
    for who in (quote(identity, safe=""), "telegram:12345"):
        await check(await client.post(f"/api/v1/citizens/{who}/handoffs", json=body, headers=key))
    await check(
        await client.post(
            "/api/v1/citizens/telegram:12345/handoffs",
            data=raw,
            headers={**key, "Content-Type": "application/json"},
        )
    )
    created = await client.post(
        "/api/v1/citizens/telegram:12345/handoffs",
        json={"message": "Please call me.", "service_request_id": reference},
        headers=key,
    )
    assert created.status == 201
    handoff_id = (await created.json())["handoff_id"]
    for target in (handoff_id, quote(identity, safe="") or "x"):
        await check(
            await client.post(
                f"/api/v1/staff/handoffs/{target}/reply", json=body, headers=sue.headers
            )
        )
    await check(
        await client.get(
            "/api/v1/staff/handoffs", params={"status": identity[:20]}, headers=sue.headers
        )
    )


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["service_request_id", "staff", "since", "until", "limit", "x"]),
        st.text(max_size=40) | st.sampled_from(["2026-11-30T12:00Z", "CD-7KQ2XM", "sue", "5"]),
        max_size=5,
    )
)
async def test_audit_read_with_random_filters_never_5xx(
    client: Client, api_key: str, make_staff: StaffFactory, query: dict[str, str]
) -> None:
    _, sue = await _ticket_and_supervisor(client, api_key, make_staff)
    await check(await client.get("/api/v1/staff/audit", params=query, headers=sue.headers))


@FUZZ
@given(
    data=st.binary(max_size=3000),
    extra=st.dictionaries(
        st.sampled_from(["service_request_id", "account_id", "x"]), st.text(max_size=30), max_size=2
    ),
)
async def test_media_upload_with_random_bytes_never_5xx(
    client: Client, api_key: str, data: bytes, extra: dict[str, str]
) -> None:
    form = FormData()
    form.add_field("file", data, filename="p.jpg", content_type="image/jpeg")
    for name, value in extra.items():
        form.add_field(name, value)
    response = await client.post("/api/v1/media", data=form, headers={"X-API-Key": api_key})
    await check(response)


_cache: dict[int, Any] = {}


async def _ticket_and_supervisor(client: Client, api_key: str, make_staff: StaffFactory) -> Any:
    # Hypothesis reuses the test's fixtures for every example: arrange once per test.
    key = id(client)
    if key not in _cache:
        reference = await file_request(client, api_key)
        sue = await make_staff("sue", "Street Lighting", StaffRole.SUPERVISOR)
        await make_staff("ann", "Street Lighting", StaffRole.AGENT)
        _cache[key] = (reference, sue)
    return _cache[key]
