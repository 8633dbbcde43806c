"""Districts: read from data, chosen at filing, and the public page's district filter."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.districts import DistrictsError, load_districts
from civicdesk_backoffice.models import Ticket
from civicdesk_backoffice.settings import DEFAULT_DISTRICTS_PATH, Settings
from tests.conftest import ClientFactory, StaffFactory, file_request
from tests.console_helpers import Client, browser, csrf_of, post_form, signed_in
from tests.test_cli import run_cli

_REPORT_LINK = re.compile(r'href="/reports/(CD-[0-9A-Z]{6})"')
_TRIANGLE = """
districts:
  - code: wedge
    names: {en: Wedge}
    area: [[0.0, 0.0], [0.0, 10.0], [10.0, 0.0]]
  - code: harbour
    names: {en: Harbour, zh-Hans: 港区}
    address_words: [Quay, "Dock Road"]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "districts.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_point_inside_an_area_wins_then_address_words(tmp_path: Path) -> None:
    districts = load_districts(_write(tmp_path, _TRIANGLE))
    assert districts.district_of(1.0, 1.0, "3 Quay Street") == "wedge"
    # Outside the triangle (beyond its slanted edge), so the address decides.
    assert districts.district_of(6.0, 6.0, "3 QUAY street") == "harbour"
    assert districts.district_of(None, None, "the old dock road bridge") == "harbour"
    assert districts.district_of(6.0, 6.0, "Mill Lane") is None
    assert districts.district_of(None, None, None) is None
    harbour = districts.by_code("harbour")
    assert harbour is not None
    assert (harbour.name("zh-Hans"), harbour.name("fr")) == ("港区", "Harbour")


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("districts: {}", "'districts:' list"),
        (
            "districts:\n  - code: Bad Code\n    names: {en: X}\n    address_words: [x]",
            "snake_case",
        ),
        ("districts:\n  - code: a\n    names: {zh-Hans: X}\n    address_words: [x]", "'en' name"),
        ("districts:\n  - code: a\n    names: {en: A}\n    area: [[1, 2], [3, 4]]", "three"),
        (
            "districts:\n  - code: a\n    names: {en: A}\n    area: [[1, 2], [3, 4], [95, 1]]",
            "corner",
        ),
        ("districts:\n  - code: a\n    names: {en: A}", "area, address_words or both"),
        (
            "districts:\n  - {code: a, names: {en: A}, address_words: [x]}\n"
            "  - {code: a, names: {en: B}, address_words: [y]}",
            "twice",
        ),
    ],
)
def test_a_malformed_districts_file_is_refused_saying_why(
    tmp_path: Path, text: str, complaint: str
) -> None:
    with pytest.raises(DistrictsError, match=re.escape(complaint)):
        load_districts(_write(tmp_path, text))


def test_the_packaged_sample_loads() -> None:
    sample = load_districts(DEFAULT_DISTRICTS_PATH)
    assert [d.code for d in sample.districts] == ["central", "north", "south"]
    # The test tickets' usual place (conftest: 52.5200, 13.4050) is in the centre.
    assert sample.district_of(52.52, 13.405, None) == "central"


async def _publish(client: Client, reference: str) -> None:
    csrf = csrf_of(await (await client.get(f"/staff/tickets/{reference}")).text())
    answer = await post_form(client, f"/staff/tickets/{reference}/publish", csrf, publish="1")
    assert answer.status == 303


async def _listed(client: Client, **query: str) -> set[str]:
    answer = await client.get("/reports/", params=query)
    assert answer.status == 200, await answer.text()
    return set(_REPORT_LINK.findall(await answer.text()))


async def test_the_public_page_filters_by_the_district_chosen_at_filing(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_staff: StaffFactory,
    api_key: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    client = await browser(aiohttp_client, settings)
    central = await file_request(client, api_key)  # 52.5200, 13.4050
    north = await file_request(client, api_key, lat="52.6000", long="13.4000")
    # No coordinates: the address names the district.
    south = await file_request(client, api_key, lat="", long="", address_string="7 Southbank Road")
    nowhere = await file_request(client, api_key, lat="48.1", long="11.5")
    no_place: dict[str, Any] = {"lat": None, "long": None, "attribute[fault]": None}
    application = await file_request(
        client,
        api_key,
        service_code="bulky_waste",
        address_string="1 Market Square",
        description="Collect my sofa.",
        **no_place,
    )
    async with sessionmaker() as session:
        stored = dict(
            (await session.execute(select(Ticket.service_request_id, Ticket.district)))
            .tuples()
            .all()
        )
    assert stored == {
        central: "central",
        north: "north",
        south: "south",
        nowhere: None,
        application: "central",
    }

    await signed_in(client, await make_staff("ann", "Street Lighting"))
    for reference in (central, north, south, nowhere):
        await _publish(client, reference)
    await signed_in(client, await make_staff("cleo", "Street Cleaning"))
    await _publish(client, application)

    public = await browser(aiohttp_client, settings)
    assert await _listed(public) == {central, north, south, nowhere, application}
    assert await _listed(public, district="central") == {central}  # not the application
    assert await _listed(public, district="north") == {north}
    assert await _listed(public, district="south", status="open") == {south}
    assert await _listed(public, district="south", status="closed") == set()
    page = await (await public.get("/reports/", params={"district": "north"})).text()
    assert '<option value="north" selected>North</option>' in page
    assert '<td data-field="district">North</td>' in page
    report = await (await public.get(f"/reports/{north}")).text()
    assert '<dd data-field="district">North</dd>' in report
    chinese = await (await public.get(f"/reports/{north}", cookies={"cd_lang": "zh-Hans"})).text()
    assert '<dd data-field="district">北区</dd>' in chinese
    refused = await public.get("/reports/", params={"district": "atlantis"})
    assert refused.status == 400
    assert "text/html" in refused.headers["Content-Type"]


async def test_districts_assign_fills_in_tickets_filed_without_one(
    client: Client,
    api_key: str,
    db_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    central = await file_request(client, api_key)
    nowhere = await file_request(client, api_key, lat="48.1", long="11.5")
    async with sessionmaker.begin() as session:
        # As if filed before migration 0011.
        await session.execute(update(Ticket).values(district=None))
    code, out, err = await run_cli(monkeypatch, capsys, db_url, "districts", "assign")
    assert code == 0, err
    assert out.strip() == "1 of 2 ticket(s) without a district got one"
    async with sessionmaker() as session:
        stored = dict(
            (await session.execute(select(Ticket.service_request_id, Ticket.district)))
            .tuples()
            .all()
        )
    assert stored == {central: "central", nowhere: None}
