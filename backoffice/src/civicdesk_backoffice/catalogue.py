"""The service catalogue: versioned YAML, validated, then synchronised into the database.

The catalogue is either one file holding ``version`` and ``services``, or a folder: an index
file (``catalogue/services.yml`` in this package, the default) holding ``version`` and an
``include`` pattern, and one YAML file per theme holding only ``services``. Either way it is
one catalogue with one version. The YAML is the source of truth; the ``services`` table is a
copy the API reads. Loading inserts new entries, updates changed ones and marks entries that
left the catalogue inactive, so tickets filed under them keep a valid service code.

Translations are data beside the English: the index may name ``translations`` (locale tags
such as ``zh-Hans``); each has a folder of that name next to the index holding
``groups.yml`` (the label of every group), ``departments.yml`` (the name of every
department, as the notice given on filing and the handoff reply name it) and one overlay file
per service file, of the same name, keyed by service code. An overlay replaces the words a
citizen sees (name, description, group, department, keywords and synonyms, questions, hints,
option names), never the structure: naming a service, attribute or option the English lacks
is an error, and :func:`missing_translations` lists whatever the English has and a locale does not.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import open311_schema
import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import ErrorDetails
from sqlalchemy import Row, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.models import ServiceEntry

logger = logging.getLogger(__name__)

Datatype = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
LIST_DATATYPES = frozenset({"singlevaluelist", "multivaluelist"})

_Text = Annotated[str, Field(min_length=1, max_length=500)]
_LongText = Annotated[str, Field(min_length=1, max_length=2000)]
_Label = Annotated[str, Field(min_length=1, max_length=100)]
# Attribute codes travel inside ``attribute[code]`` form keys, so no brackets or spaces.
_AttributeCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,64}$")]

_SERVICE_CODE = r"[a-z][a-z0-9_]{1,63}"

INDEX_FILE_NAME = "services.yml"
"""The index file looked for when a catalogue path names a folder."""

# libyaml's safe loader when PyYAML was built with it: several times faster on the full
# catalogue, and it accepts exactly what the pure-Python SafeLoader accepts.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# A lock number of our own, so several back-office processes starting at once load in turn.
_CATALOGUE_LOCK_ID = 0x0C1D_E5C0


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class AttributeValue(_Strict):
    """One choice of a list attribute."""

    key: _Label
    name: _Text


class ServiceAttribute(_Strict):
    """One Open311 attribute: a question the citizen answers when filing a request."""

    code: _AttributeCode
    datatype: Datatype
    required: bool
    order: Annotated[int, Field(ge=1)]
    description: _Text
    variable: bool = True
    datatype_description: _Text | None = None
    values: list[AttributeValue] = Field(default_factory=list)

    @model_validator(mode="after")
    def _values_fit_datatype(self) -> ServiceAttribute:
        if self.datatype in LIST_DATATYPES:
            if not self.values:
                raise ValueError(f"a {self.datatype} needs at least one entry in values")
            keys = [value.key for value in self.values]
            if len(set(keys)) != len(keys):
                raise ValueError("values have duplicate keys")
        elif self.values:
            raise ValueError(f"values are only allowed for list datatypes, not {self.datatype}")
        return self

    def to_open311(self) -> dict[str, Any]:
        """The attribute as the Open311 service definition shows it (the shared schema's form)."""
        return open311_schema.ServiceAttribute(
            code=self.code,
            datatype=self.datatype,
            required=self.required,
            description=self.description,
            order=self.order,
            variable=self.variable,
            datatype_description=self.datatype_description,
            values=tuple(
                open311_schema.AttributeValue(key=value.key, name=value.name)
                for value in self.values
            ),
        ).to_json()


class CatalogueEntry(_Strict):
    """One service of the catalogue file."""

    code: Annotated[str, Field(pattern=f"^{_SERVICE_CODE}$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: _LongText
    group: _Label
    type: Literal["complaint", "application", "feedback"]
    keywords: Annotated[list[_Label], Field(min_length=1)]
    synonyms: list[_Label] = Field(default_factory=list)
    department: _Label
    needs_location: bool
    needs_photo: bool
    location_question: _Text | None = None
    photo_question: _Text | None = None
    sla_hours: Annotated[int, Field(ge=1, le=24 * 366)]
    attributes: list[ServiceAttribute] = Field(default_factory=list)

    @model_validator(mode="after")
    def _questions_are_asked(self) -> CatalogueEntry:
        # Wording for a question the bot never asks would be dead data; refuse it.
        if self.location_question is not None and not self.needs_location:
            raise ValueError("location_question is set but needs_location is false")
        if self.photo_question is not None and not self.needs_photo:
            raise ValueError("photo_question is set but needs_photo is false")
        return self

    @model_validator(mode="after")
    def _attributes_are_distinct(self) -> CatalogueEntry:
        codes = [attribute.code for attribute in self.attributes]
        if len(set(codes)) != len(codes):
            raise ValueError("attribute codes must be unique within a service")
        orders = [attribute.order for attribute in self.attributes]
        if len(set(orders)) != len(orders):
            raise ValueError("attribute orders must be unique within a service")
        return self

    def column_values(self) -> dict[str, Any]:
        """The ``services`` row this entry becomes (apart from version and active flag)."""
        return {
            "name": self.name,
            "description": self.description,
            "group": self.group,
            "type": self.type,
            # Synonyms are published as keywords too: Open311 has one list of search tags.
            "keywords": list(dict.fromkeys([*self.keywords, *self.synonyms])),
            "department": self.department,
            "needs_location": self.needs_location,
            "needs_photo": self.needs_photo,
            "location_question": self.location_question,
            "photo_question": self.photo_question,
            "sla_hours": self.sla_hours,
            "attributes": [attribute.model_dump(mode="json") for attribute in self.attributes],
        }

    def stored_translation(self, overlay: LocaleOverlay) -> dict[str, Any] | None:
        """This entry's words in ``overlay``'s language as the ``translations`` column keeps them.

        Keywords and synonyms are merged as :meth:`column_values` merges the English ones, and
        the group label is looked up; None if the overlay has no entry for this service.
        """
        words = overlay.services.get(self.code)
        if words is None:
            return None
        return {
            "name": words.name,
            "description": words.description,
            "group": overlay.groups.get(self.group),
            "department": overlay.departments.get(self.department),
            "keywords": list(dict.fromkeys([*words.keywords, *words.synonyms])),
            "location_question": words.location_question,
            "photo_question": words.photo_question,
            "attributes": {
                code: attribute.model_dump(mode="json")
                for code, attribute in words.attributes.items()
            },
        }


class Catalogue(_Strict):
    """The whole catalogue: a single file, or an index file and its service files.

    ``translations`` maps a locale tag to its overlay; every overlay names only services,
    attributes, options and groups the English has, and words only questions it asks.
    """

    version: Annotated[int, Field(ge=1)]
    services: Annotated[list[CatalogueEntry], Field(min_length=1)]
    translations: dict[str, LocaleOverlay] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _codes_are_unique(self) -> Catalogue:
        seen: set[str] = set()
        for entry in self.services:
            if entry.code in seen:
                raise ValueError(f"service code {entry.code!r} appears more than once")
            seen.add(entry.code)
        return self

    @model_validator(mode="after")
    def _translations_name_what_exists(self) -> Catalogue:
        problems = [
            f"{locale}: {problem}"
            for locale, overlay in self.translations.items()
            for problem in _overlay_problems(self.services, overlay)
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def column_values(self, entry: CatalogueEntry) -> dict[str, Any]:
        """``entry``'s row values including its ``translations`` column (locale -> words)."""
        translations = {
            locale: stored
            for locale, overlay in self.translations.items()
            if (stored := entry.stored_translation(overlay)) is not None
        }
        return {**entry.column_values(), "translations": translations}


def _overlay_problems(services: Sequence[CatalogueEntry], overlay: LocaleOverlay) -> list[str]:
    """What ``overlay`` names that the English catalogue lacks (typos would vanish silently)."""
    by_code = {entry.code: entry for entry in services}
    problems = [
        f"groups: {group!r} is not a group of any service"
        for group in overlay.groups
        if group not in {entry.group for entry in services}
    ]
    problems.extend(
        f"departments: {department!r} is not the department of any service"
        for department in overlay.departments
        if department not in {entry.department for entry in services}
    )
    for code, words in overlay.services.items():
        entry = by_code.get(code)
        if entry is None:
            problems.append(f"service {code!r} is not in the catalogue")
            continue
        if words.location_question is not None and entry.location_question is None:
            problems.append(f"service {code!r}: location_question has no English to translate")
        if words.photo_question is not None and entry.photo_question is None:
            problems.append(f"service {code!r}: photo_question has no English to translate")
        attributes = {attribute.code: attribute for attribute in entry.attributes}
        for attribute_code, attribute_words in words.attributes.items():
            attribute = attributes.get(attribute_code)
            where = f"service {code!r}, attribute {attribute_code!r}"
            if attribute is None:
                problems.append(f"{where} is not an attribute of that service")
                continue
            if attribute_words.datatype_description and not attribute.datatype_description:
                problems.append(f"{where}: datatype_description has no English to translate")
            keys = {value.key for value in attribute.values}
            problems.extend(
                f"{where}: option {key!r} is not one of its values"
                for key in attribute_words.values
                if key not in keys
            )
    return problems


def missing_translations(catalogue: Catalogue, locale: str) -> list[str]:
    """Every word of the English catalogue that ``locale`` does not translate, one line each.

    A locale the catalogue has no overlay for lacks everything; an empty list means complete.
    """
    overlay = catalogue.translations.get(locale)
    if overlay is None:
        return [f"{locale}: no translation of the catalogue"]
    missing = [
        f"group {group!r}"
        for group in dict.fromkeys(entry.group for entry in catalogue.services)
        if group not in overlay.groups
    ]
    missing.extend(
        f"department {department!r}"
        for department in dict.fromkeys(entry.department for entry in catalogue.services)
        if department not in overlay.departments
    )
    for entry in catalogue.services:
        words = overlay.services.get(entry.code)
        if words is None:
            missing.append(f"service {entry.code!r}")
            continue
        if entry.location_question is not None and words.location_question is None:
            missing.append(f"service {entry.code!r}: location_question")
        if entry.photo_question is not None and words.photo_question is None:
            missing.append(f"service {entry.code!r}: photo_question")
        for attribute in entry.attributes:
            where = f"service {entry.code!r}, attribute {attribute.code!r}"
            attribute_words = words.attributes.get(attribute.code)
            if attribute_words is None:
                missing.append(where)
                continue
            if attribute.datatype_description and not attribute_words.datatype_description:
                missing.append(f"{where}: datatype_description")
            missing.extend(
                f"{where}: option {value.key!r}"
                for value in attribute.values
                if value.key not in attribute_words.values
            )
    return missing


class CatalogueIndex(_Strict):
    """The index file of a catalogue split over several files of one folder."""

    version: Annotated[int, Field(ge=1)]
    # A bare file-name pattern: service files must sit beside the index, nowhere else.
    include: Annotated[str, Field(pattern=r"^[A-Za-z0-9_*?.-]+$")]
    # Locale tags; each names a folder beside the index (so no slashes or dots in them).
    translations: list[Annotated[str, Field(pattern=f"^{_LOCALE_TAG}$")]] = Field(
        default_factory=list
    )


class OverlayPart(_Strict):
    """One overlay file of a translation: words for the services of one service file."""

    services: dict[str, ServiceTranslation]


class OverlayGroups(_Strict):
    """``groups.yml`` of a translation: the label of every group."""

    groups: dict[_Label, _Label]


class OverlayDepartments(_Strict):
    """``departments.yml`` of a translation: the name of every department."""

    departments: dict[_Label, _Label]


class CataloguePart(_Strict):
    """One service file of a split catalogue: services only, the index holds the version."""

    services: Annotated[list[CatalogueEntry], Field(min_length=1)]


class AttributeTranslation(_Strict):
    """One attribute's words in another language; its code, datatype and keys stay English."""

    description: _Text
    datatype_description: _Text | None = None
    values: dict[_Label, _Text] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _question_alone(cls, raw: object) -> object:
        # A question with no hint and no options may be written as the bare string.
        return {"description": raw} if isinstance(raw, str) else raw


class ServiceTranslation(_Strict):
    """One service's words in another language (the overlay entry under its code)."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: _LongText
    keywords: Annotated[list[_Label], Field(min_length=1)]
    synonyms: list[_Label] = Field(default_factory=list)
    location_question: _Text | None = None
    photo_question: _Text | None = None
    attributes: dict[_AttributeCode, AttributeTranslation] = Field(default_factory=dict)


class LocaleOverlay(_Strict):
    """A whole translation: group labels, department names and every service's words."""

    groups: dict[_Label, _Label]
    services: dict[str, ServiceTranslation]
    departments: dict[_Label, _Label] = Field(default_factory=dict)


_LOCALE_TAG = r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*"


_ATTRIBUTES = TypeAdapter(list[ServiceAttribute])


def attributes_of(service: ServiceEntry) -> list[ServiceAttribute]:
    """The validated attribute definitions stored on a ``services`` row."""
    return parse_attributes(service.attributes)


def parse_attributes(stored: list[Any]) -> list[ServiceAttribute]:
    """The validated attribute definitions of a ``services.attributes`` column value."""
    return _ATTRIBUTES.validate_python(stored, strict=False)


@dataclass(frozen=True)
class ServiceWords:
    """What a citizen reads of one service, in one language."""

    name: str
    description: str
    group: str
    department: str
    keywords: tuple[str, ...]
    location_question: str | None
    photo_question: str | None


def _translation(service: ServiceEntry | Row[Any], locale: str) -> dict[str, Any]:
    stored = (service.translations or {}).get(locale)
    return stored if isinstance(stored, dict) else {}


def words_of(service: ServiceEntry, locale: str) -> ServiceWords:
    """``service``'s words in ``locale``; each one the translation lacks is the English.

    English (or any locale without a translation on this row) is the row's own columns.
    """
    words = _translation(service, locale)
    return ServiceWords(
        name=words.get("name") or service.name,
        description=words.get("description") or service.description,
        group=words.get("group") or service.group,
        department=department_in(service, locale),
        keywords=tuple(words.get("keywords") or service.keywords),
        location_question=words.get("location_question") or service.location_question,
        photo_question=words.get("photo_question") or service.photo_question,
    )


def department_in(service: ServiceEntry | Row[Any], locale: str) -> str:
    """The name of ``service``'s department in ``locale``, the English one if it has none.

    ``service`` is a ``services`` row or any row with its ``department`` and ``translations``.
    """
    words = _translation(service, locale)
    return str(words.get("department") or service.department)


async def department_name(session: AsyncSession, department: str, locale: str) -> str:
    """``department``'s name in ``locale``, from any service of that department (one read).

    English, or a department no service names in ``locale``, is the name as given.
    """
    if locale == "en":
        return department
    found = await session.execute(
        select(ServiceEntry.department, ServiceEntry.translations)
        .where(ServiceEntry.department == department)
        .limit(1)
    )
    row = found.first()
    return department if row is None else department_in(row, locale)


def localised_attributes(service: ServiceEntry, locale: str) -> list[ServiceAttribute]:
    """The attribute definitions of ``service`` with questions, hints and options in ``locale``.

    Codes, datatypes and option keys never change: an answer given in any language is
    filed with the same keys.
    """
    translated = _translation(service, locale).get("attributes") or {}
    localised: list[ServiceAttribute] = []
    for attribute in attributes_of(service):
        words = translated.get(attribute.code)
        if not isinstance(words, dict):
            localised.append(attribute)
            continue
        names = words.get("values") or {}
        localised.append(
            attribute.model_copy(
                update={
                    "description": words.get("description") or attribute.description,
                    "datatype_description": words.get("datatype_description")
                    or attribute.datatype_description,
                    "values": [
                        AttributeValue(key=value.key, name=names.get(value.key) or value.name)
                        for value in attribute.values
                    ],
                }
            )
        )
    return localised


def is_service_code(text: str) -> bool:
    """Whether ``text`` has the shape of a service code (snake_case, at most 64 characters)."""
    return re.fullmatch(_SERVICE_CODE, text) is not None


class CatalogueError(ValueError):
    """The catalogue file cannot be read or is not valid.

    Attributes:
        problems: One message per problem, naming the entry (number and code) it is in.
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"invalid catalogue {source}: " + "; ".join(problems))
        self.problems = problems


def read_catalogue(path: Path) -> Catalogue:
    """Read and validate a catalogue.

    Args:
        path: A single-file catalogue, an index file (one with ``include``), or a folder,
            meaning the index file ``services.yml`` in it.

    Returns:
        The validated catalogue; a split one lists the services file by file, in file-name
        order.

    Raises:
        CatalogueError: if a file is missing or not YAML, any entry is invalid, or a service
            code appears twice (in one file or across files). Every problem is listed.
    """
    if path.is_dir():
        path = path / INDEX_FILE_NAME
    raw = _read_yaml(path, str(path))
    if isinstance(raw, dict) and "include" in raw:
        return _read_split_catalogue(path, raw)
    return parse_catalogue(raw, source=str(path))


def _read_yaml(path: Path, source: str) -> object:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)  # noqa: S506
    except OSError as error:
        raise CatalogueError(source, [f"cannot read {path.name} ({error.strerror})"]) from error
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise CatalogueError(source, [f"{path.name} is not valid YAML: {error}"]) from error


def _read_split_catalogue(index_path: Path, raw_index: dict[str, Any]) -> Catalogue:
    """Read the service files an index names; problems of every file are reported together."""
    source = str(index_path)
    try:
        index = CatalogueIndex.model_validate(raw_index)
    except ValidationError as error:
        raise CatalogueError(
            source, [f"{index_path.name}: {_describe_issue(raw_index, i)}" for i in error.errors()]
        ) from error
    parts = sorted(
        part for part in index_path.parent.glob(index.include) if part.name != index_path.name
    )
    if not parts:
        raise CatalogueError(source, [f"no service file matches include {index.include!r}"])
    problems: list[str] = []
    services: list[CatalogueEntry] = []
    first_file: dict[str, str] = {}
    for part_path in parts:
        raw = _read_yaml(part_path, source)
        if isinstance(raw, dict) and "version" in raw:
            problems.append(
                f"{part_path.name}: sets a version; only the index {index_path.name} does"
            )
            continue
        try:
            part = CataloguePart.model_validate(raw)
        except ValidationError as error:
            problems.extend(f"{part_path.name}: {_describe_issue(raw, i)}" for i in error.errors())
            continue
        for entry in part.services:
            if entry.code in first_file:
                where = first_file[entry.code]
                problems.append(
                    f"service code {entry.code!r} appears more than once: "
                    f"in {where} and in {part_path.name}"
                    if where != part_path.name
                    else f"service code {entry.code!r} appears more than once in {where}"
                )
                continue
            first_file[entry.code] = part_path.name
            services.append(entry)
    translations = {
        locale: _read_overlay(index_path.parent / locale, first_file, problems)
        for locale in index.translations
    }
    if problems:
        raise CatalogueError(source, problems)
    try:
        return Catalogue(version=index.version, services=services, translations=translations)
    except ValidationError as error:
        raise CatalogueError(source, [str(issue["msg"]) for issue in error.errors()]) from error


def _read_overlay(folder: Path, file_of: dict[str, str], problems: list[str]) -> LocaleOverlay:
    """Read one translation folder; its problems are added to ``problems``.

    ``file_of`` maps each service code to the service file it is in: a service's overlay
    lives in the overlay file of the same name, so the two are edited side by side.
    """
    locale = folder.name
    groups: dict[str, str] = {}
    departments: dict[str, str] = {}
    services: dict[str, ServiceTranslation] = {}
    groups_path = folder / "groups.yml"
    raw_groups = _read_yaml(groups_path, str(groups_path))
    try:
        groups = OverlayGroups.model_validate(raw_groups).groups
    except ValidationError as error:
        problems.extend(
            f"{locale}/groups.yml: {_describe_issue(raw_groups, i)}" for i in error.errors()
        )
    # Optional: a translation without it names every department in English.
    departments_path = folder / "departments.yml"
    if departments_path.exists():
        raw_departments = _read_yaml(departments_path, str(departments_path))
        try:
            departments = OverlayDepartments.model_validate(raw_departments).departments
        except ValidationError as error:
            problems.extend(
                f"{locale}/departments.yml: {_describe_issue(raw_departments, i)}"
                for i in error.errors()
            )
    english_files = set(file_of.values())
    for part_path in sorted(folder.glob("*.yml")):
        if part_path.name in (groups_path.name, departments_path.name):
            continue
        where = f"{locale}/{part_path.name}"
        if part_path.name not in english_files:
            problems.append(f"{where}: there is no service file {part_path.name} to translate")
            continue
        raw = _read_yaml(part_path, str(part_path))
        try:
            part = OverlayPart.model_validate(raw)
        except ValidationError as error:
            problems.extend(f"{where}: {_describe_issue(raw, i)}" for i in error.errors())
            continue
        for code, words in part.services.items():
            home = file_of.get(code)
            if home is not None and home != part_path.name:
                problems.append(f"{where}: service {code!r} belongs in {locale}/{home}")
            elif code in services:
                problems.append(f"{where}: service {code!r} is translated twice")
            else:
                services[code] = words
    return LocaleOverlay(groups=groups, services=services, departments=departments)


def parse_catalogue(raw: object, *, source: str = "<data>") -> Catalogue:
    """Validate already-loaded catalogue data.

    Raises:
        CatalogueError: listing every problem, each naming the entry it is in.
    """
    try:
        return Catalogue.model_validate(raw)
    except ValidationError as error:
        problems = [_describe_issue(raw, issue) for issue in error.errors()]
        raise CatalogueError(source, problems) from error


def _describe_issue(raw: object, issue: ErrorDetails) -> str:
    return f"{_describe_location(raw, issue['loc'])}{issue['msg']}"


def _describe_location(raw: object, location: Sequence[int | str]) -> str:
    """Turn a pydantic error location into words, naming list items by their code."""
    parts: list[str] = []
    node: Any = raw
    for index, step in enumerate(location):
        container = location[index - 1] if index else None
        if isinstance(step, int):
            node = node[step] if isinstance(node, list) and step < len(node) else None
            code = node.get("code") if isinstance(node, dict) else None
            label = {"services": "service", "attributes": "attribute", "values": "value"}.get(
                str(container), "item"
            )
            named = f" ({code})" if isinstance(code, str) else ""
            parts[-1:] = [f"{label} #{step + 1}{named}"]
        else:
            node = node.get(step) if isinstance(node, dict) else None
            parts.append(str(step))
    return f"{', '.join(parts)}: " if parts else ""


@dataclass(frozen=True)
class SyncReport:
    """What loading a catalogue changed in the database."""

    version: int
    added: tuple[str, ...]
    updated: tuple[str, ...]
    deactivated: tuple[str, ...]
    unchanged: int

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"catalogue version {self.version}: {len(self.added)} added, "
            f"{len(self.updated)} updated, {len(self.deactivated)} deactivated, "
            f"{self.unchanged} unchanged"
        )


async def sync_catalogue(session: AsyncSession, catalogue: Catalogue) -> SyncReport:
    """Make the ``services`` table match ``catalogue``; the caller commits.

    Args:
        session: An open session; its transaction is used for the whole sync.
        catalogue: The validated catalogue.

    Returns:
        Which service codes were added, updated and deactivated.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _CATALOGUE_LOCK_ID}
        )
    existing = {row.code: row for row in (await session.scalars(select(ServiceEntry))).all()}
    added: list[str] = []
    updated: list[str] = []
    unchanged = 0
    for entry in catalogue.services:
        values = catalogue.column_values(entry)
        row = existing.pop(entry.code, None)
        if row is None:
            session.add(
                ServiceEntry(
                    code=entry.code, catalogue_version=catalogue.version, active=True, **values
                )
            )
            added.append(entry.code)
            continue
        if row.active and all(getattr(row, name) == value for name, value in values.items()):
            unchanged += 1
        else:
            for name, value in values.items():
                setattr(row, name, value)
            row.active = True
            updated.append(entry.code)
        row.catalogue_version = catalogue.version
    deactivated = [code for code, row in existing.items() if row.active]
    for code in deactivated:
        existing[code].active = False
    await session.flush()
    return SyncReport(
        version=catalogue.version,
        added=tuple(added),
        updated=tuple(updated),
        deactivated=tuple(deactivated),
        unchanged=unchanged,
    )


async def load_catalogue(sessionmaker: async_sessionmaker[AsyncSession], path: Path) -> SyncReport:
    """Read ``path``, validate it and synchronise the database in one transaction.

    Raises:
        CatalogueError: if the file is invalid; the database is then left untouched.
    """
    catalogue = read_catalogue(path)
    async with sessionmaker.begin() as session:
        report = await sync_catalogue(session, catalogue)
    logger.info("%s", report.summary())
    return report


async def active_services(session: AsyncSession) -> list[ServiceEntry]:
    """Every service currently offered, by group and name."""
    query = (
        select(ServiceEntry)
        .where(ServiceEntry.active.is_(True))
        .order_by(ServiceEntry.group, ServiceEntry.name)
    )
    return list((await session.scalars(query)).all())


async def active_service(session: AsyncSession, code: str) -> ServiceEntry | None:
    """The service with this code if it is currently offered."""
    if not is_service_code(code):
        return None
    service = await session.get(ServiceEntry, code)
    return service if service is not None and service.active else None
