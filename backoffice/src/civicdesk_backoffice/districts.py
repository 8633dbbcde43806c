"""The city's districts, kept as data, and which one a ticket's place lies in.

A district is a code, a name per language and where it is: an area (a polygon of
``[lat, long]`` corners) and, for requests that give only an address, words of addresses
in it (street or neighbourhood names). A ticket gets its district when it is filed: the
first district whose area holds its coordinates, else the first whose address word appears
in its address (case-insensitive), else none. The file is read once at start
(``BACKOFFICE__DISTRICTS_PATH``; the packaged ``districts.yml`` is a sample to replace).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.models import Ticket

_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")


class DistrictsError(ValueError):
    """The districts file is malformed; the message says where."""


@dataclass(frozen=True)
class District:
    """One district: its code, names by locale, area corners and address words."""

    code: str
    names: Mapping[str, str]
    area: tuple[tuple[float, float], ...]
    address_words: tuple[str, ...]

    def name(self, locale: str) -> str:
        """The district's name in ``locale``, or in English when it has none there."""
        return self.names.get(locale) or self.names["en"]

    def holds(self, lat: float, long: float) -> bool:
        """Whether the point lies inside the area (even-odd rule; an edge may go either way)."""
        inside = False
        corners = self.area
        edges = zip(corners, corners[1:] + corners[:1], strict=True)
        for (lat_a, long_a), (lat_b, long_b) in edges:
            if (lat_a > lat) != (lat_b > lat):
                crossing = long_a + (lat - lat_a) * (long_b - long_a) / (lat_b - lat_a)
                if long < crossing:
                    inside = not inside
        return inside


@dataclass(frozen=True)
class DistrictMap:
    """Every district, in file order (the first match wins)."""

    districts: tuple[District, ...] = ()

    def by_code(self, code: str) -> District | None:
        """The district ``code``, or None."""
        return next((d for d in self.districts if d.code == code), None)

    def district_of(self, lat: float | None, long: float | None, address: str | None) -> str | None:
        """The code of the district a place lies in (see the module docstring), or None."""
        if lat is not None and long is not None:
            for district in self.districts:
                if district.area and district.holds(lat, long):
                    return district.code
        if address:
            folded = address.casefold()
            for district in self.districts:
                if any(word in folded for word in district.address_words):
                    return district.code
        return None


def load_districts(path: Path) -> DistrictMap:
    """Read a districts file.

    Raises:
        DistrictsError: when it is not a ``districts:`` list of well-formed entries.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise DistrictsError(f"{path}: cannot be read as YAML ({error})") from None
    entries = data.get("districts") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise DistrictsError(f"{path}: expected a top-level 'districts:' list")
    districts = tuple(_district(path, number, entry) for number, entry in enumerate(entries, 1))
    codes = [district.code for district in districts]
    if len(set(codes)) != len(codes):
        raise DistrictsError(f"{path}: a district code appears twice")
    return DistrictMap(districts)


def _district(path: Path, number: int, entry: Any) -> District:  # noqa: ANN401 (parsed YAML)
    where = f"{path}: district {number}"
    if not isinstance(entry, dict):
        raise DistrictsError(f"{where}: expected a mapping")
    code = entry.get("code")
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise DistrictsError(f"{where}: code must be snake_case, at most 40 characters")
    names = entry.get("names")
    if not isinstance(names, dict) or not isinstance(names.get("en"), str):
        raise DistrictsError(f"{where} ({code}): names needs at least an 'en' name")
    if not all(isinstance(k, str) and isinstance(v, str) and v for k, v in names.items()):
        raise DistrictsError(f"{where} ({code}): every name is a non-empty string")
    area = _area(f"{where} ({code})", entry.get("area", []))
    words = entry.get("address_words", [])
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise DistrictsError(f"{where} ({code}): address_words is a list of words")
    if not area and not words:
        raise DistrictsError(f"{where} ({code}): give an area, address_words or both")
    return District(code, dict(names), area, tuple(w.strip().casefold() for w in words))


def _area(where: str, raw: Any) -> tuple[tuple[float, float], ...]:  # noqa: ANN401
    if not isinstance(raw, list) or (raw and len(raw) < 3):
        raise DistrictsError(f"{where}: area is a list of at least three [lat, long] corners")
    corners: list[tuple[float, float]] = []
    for corner in raw:
        if not (
            isinstance(corner, Sequence)
            and len(corner) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in corner)
            and -90 <= corner[0] <= 90
            and -180 <= corner[1] <= 180
        ):
            raise DistrictsError(f"{where}: {corner!r} is not a [lat, long] corner")
        corners.append((float(corner[0]), float(corner[1])))
    return tuple(corners)


_ASSIGN_BATCH = 1000


async def assign_missing(
    sessionmaker: async_sessionmaker[AsyncSession], districts: DistrictMap
) -> tuple[int, int]:
    """Give every ticket without a district the one its place lies in.

    For tickets filed before districts existed, or after the districts file changed.
    Walks the tickets once by id, a thousand per transaction.

    Returns:
        How many tickets were looked at and how many got a district.
    """
    looked = assigned = 0
    after = 0
    while True:
        async with sessionmaker.begin() as session:
            rows = (
                await session.execute(
                    select(Ticket.id, Ticket.lat, Ticket.long, Ticket.address_string)
                    .where(Ticket.district.is_(None), Ticket.id > after)
                    .order_by(Ticket.id)
                    .limit(_ASSIGN_BATCH)
                )
            ).all()
            if not rows:
                return looked, assigned
            after = rows[-1].id
            looked += len(rows)
            for row in rows:
                code = districts.district_of(row.lat, row.long, row.address_string)
                if code is not None:
                    await session.execute(
                        update(Ticket).where(Ticket.id == row.id).values(district=code)
                    )
                    assigned += 1
