"""One simulated citizen's conversation through the running stack, and the verdict on it.

The citizen talks to Rasa's REST channel (``/webhooks/rest/webhook``) of a running stack
(back office, action server, Rasa); the verdict reads the ticket back from the back office:
its Open311 record (``GET /open311/v2/requests/{id}.json``) for the service and the place,
and its stored row for the attribute answers and contact fields, which Open311's public
reads never show.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from evals.bot_messages import Reply, read_reply, response_key
from evals.citizen import Catalogue, Citizen, Mode, says
from evals.scenarios import Scenario
from evals.voice_channel import say_by_voice

MAX_TURNS = 20
# A queued submission is announced when the citizen writes again.
QUEUED_WAIT_SECONDS = 2.0


@dataclass
class Outcome:
    scenario: Scenario
    mode: Mode
    turns: int = 0
    reference: str | None = None
    problems: list[str] = field(default_factory=list)
    transcript: list[tuple[str, str]] = field(default_factory=list)
    # Most consecutive turns in which the bot said one identical message.
    longest_repeat: int = 0
    seconds: float = 0.0

    @property
    def success(self) -> bool:
        return self.reference is not None and not self.problems


async def read_catalogue(client: httpx.AsyncClient, backoffice_url: str) -> Catalogue:
    """The groups and attribute questions of every service, as the citizen can read them."""
    base = f"{backoffice_url}/open311/v2"
    groups: dict[str, dict[str, str]] = {}
    questions: dict[tuple[str, str], str] = {}
    for language in LANGUAGES:
        params = {"locale": language}
        services = (await client.get(f"{base}/services.json", params=params)).json()
        groups[language] = {s["service_code"]: s.get("group") or "" for s in services}
        for service in services:
            if not service.get("metadata"):
                continue
            code = service["service_code"]
            definition = (await client.get(f"{base}/services/{code}.json", params=params)).json()
            for attribute in definition.get("attributes", []):
                text = (attribute.get("description") or attribute["code"]).strip()
                questions[(code, text)] = attribute["code"]
    english = groups.pop("en")
    return Catalogue(groups=english, questions=questions, localised_groups=groups)


# The languages a scenario's citizen may write in (evals/scenarios.py).
LANGUAGES = ("en", "zh-Hans")


async def converse(
    client: httpx.AsyncClient,
    rasa_url: str,
    scenario: Scenario,
    mode: Mode,
    catalogue: Catalogue,
    sender: str,
    rasa_token: str = "",
) -> Outcome:
    """Play ``scenario`` to its end (a reference, or ``MAX_TURNS`` messages); the voice mode
    talks through the voice channel and reads the turn from the tracker (``rasa_token``)."""
    outcome = Outcome(scenario, mode)
    citizen = Citizen(scenario, mode, catalogue)
    started = time.perf_counter()
    message = scenario.opening
    repeats: dict[str, int] = {}  # bot text -> consecutive turns it was said in
    while outcome.turns < MAX_TURNS:
        if mode == "voice":
            reply, sent, heard = await say_by_voice(client, rasa_url, rasa_token, sender, message)
            outcome.turns += sent
            outcome.problems.extend(heard)
        else:
            reply = await _say(client, rasa_url, sender, message)
            outcome.turns += 1
        outcome.transcript.append(("citizen", message))
        outcome.transcript.extend(("bot", text) for text in reply.texts)
        if reply.buttons:
            # The titles too: a failure is read from what the citizen could have tapped.
            outcome.transcript.append(("buttons", " | ".join(b.title for b in reply.buttons)))
        # Button captions ("Or:") come with every ask of some steps; the question itself and
        # what is said about the answer are what must not repeat.
        said = {t for t in reply.texts if not (response_key(t)[0] or "").endswith("_moves")}
        repeats = {text: repeats.get(text, 0) + 1 for text in said}
        outcome.longest_repeat = max([outcome.longest_repeat, *repeats.values()])
        if reply.step == "filed":
            outcome.reference = reply.values.get("service_request_id")
            break
        if reply.step == "queued":
            await asyncio.sleep(QUEUED_WAIT_SECONDS)
            message = says(scenario.language, "still_there")
            continue
        message = citizen.answer(reply)
    outcome.seconds = time.perf_counter() - started
    if outcome.reference is None:
        outcome.problems.append(f"no ticket after {outcome.turns} messages")
    if outcome.longest_repeat >= 3:
        outcome.problems.append(f"the same bot message {outcome.longest_repeat} times in a row")
    return outcome


async def _say(client: httpx.AsyncClient, rasa_url: str, sender: str, message: str) -> Reply:
    response = await client.post(
        f"{rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": message},
        timeout=60,
    )
    response.raise_for_status()
    return read_reply(response.json())


async def judge(
    client: httpx.AsyncClient, backoffice_url: str, database: Path, outcome: Outcome
) -> None:
    """Compare the filed ticket with what the scenario expects; problems go on ``outcome``."""
    if outcome.reference is None:
        return
    expect = outcome.scenario.expect
    response = await client.get(f"{backoffice_url}/open311/v2/requests/{outcome.reference}.json")
    if response.status_code != 200:
        outcome.problems.append(f"ticket {outcome.reference} not readable: {response.status_code}")
        return
    [ticket] = response.json()
    if ticket["service_code"] != expect.service_code:
        outcome.problems.append(f"service {ticket['service_code']}, expected {expect.service_code}")
    if expect.address_contains:
        address = str(ticket.get("address") or "")
        if expect.address_contains.casefold() not in address.casefold():
            outcome.problems.append(f"address {address!r} lacks {expect.address_contains!r}")
    row = _stored(database, outcome.reference)
    for code, keys in expect.attributes.items():
        given = _values(row["attributes"].get(code))
        if set(given) != set(keys):
            outcome.problems.append(f"attribute {code}={list(given)}, expected {list(keys)}")
    # "name" is the whole name as typed, stored as Open311 first_name and last_name.
    row["name"] = " ".join(str(row[part]) for part in ("first_name", "last_name") if row[part])
    for name, value in expect.contact.items():
        if _same(row.get(name), value) is False:
            outcome.problems.append(f"{name} {row.get(name)!r}, expected {value!r}")


def _same(stored: Any, expected: str) -> bool:
    """Contact fields compare as typed, ignoring spaces and letter case."""
    return str(stored or "").replace(" ", "").casefold() == expected.replace(" ", "").casefold()


def _stored(database: Path, reference: str) -> dict[str, Any]:
    with sqlite3.connect(database) as connection:
        connection.row_factory = sqlite3.Row
        row = connection.execute(
            "SELECT attributes, phone, email, first_name, last_name FROM tickets"
            " WHERE service_request_id = ?",
            (reference,),
        ).fetchone()
    found = dict(row)
    found["attributes"] = json.loads(found["attributes"] or "{}")
    return found


def _values(stored: Any) -> tuple[str, ...]:
    if stored is None:
        return ()
    if isinstance(stored, list):
        return tuple(str(v) for v in stored)
    if isinstance(stored, dict) and "values" in stored:
        return _values(stored["values"])
    return (str(stored),)
