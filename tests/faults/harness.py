"""Fault injection: simulated citizens in the middle of complaints while a part of the system fails.

One environment holds the whole stack as ``make run`` starts it (``devstack``: back office,
action server, Rasa with the trained model), with two changes so that every fault can be
made to happen: both databases (the back office's tickets and Rasa's conversations) live in
a PostgreSQL cluster of the run's own (``private_postgres``), which may be restarted, and
Rasa also serves the Telegram channel against the fake Bot API on 127.0.0.1
(``tests/channels/fake_telegram.py``).

A run of one fault starts N citizens at staggered times. Each files one complaint as a
tapping citizen of ``evals/citizen.py`` would, with a pause to read between messages; a
message that gets no answer (connection refused, an error, an empty reply) is sent again a
second later, as a platform redelivers a webhook that failed. Once half of the citizens are
two messages in, the fault happens:

- ``backoffice_down``: the back office stops (SIGTERM) for 30 s, then starts again;
- ``actions_killed``: the action server is killed (SIGKILL) and started again at once;
- ``postgres_restart``: the private PostgreSQL stops (``pg_ctl -m fast``: every session is
  cut), stays down 5 s and starts again;
- ``rasa_killed``: Rasa is killed (SIGKILL) and started again;
- ``webhook_thrice``: the citizens are on Telegram, and every update is posted three times
  (two at once, a third after both were answered), as Telegram redelivers a webhook.

When every conversation has ended, the run waits (bounded) until each citizen has a ticket
and has been told its reference, and the action server's outbox holds nothing still to send;
then it counts, from the back office (each citizen's tickets by chat identity) and from the
chat transcripts (Rasa's tracker for the REST channel, the Bot API's ``sendMessage`` calls
for Telegram): tickets expected, created, duplicated and lost, citizens told "I will send it
as soon as it answers" (``utter_submission_queued``) and citizens told their reference.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from devstack import StackConfig, scratch_config
from evals.bot_messages import Reply, read_reply
from evals.citizen import Catalogue, Citizen
from evals.conversation import read_catalogue
from evals.scenarios import Answer, Contact, Expected, Scenario
from tests.channels.fake_telegram import TOKEN, FakeTelegram, fake_telegram
from tests.e2e.channel_stack import ChannelStack, served_in_background
from tests.faults.private_postgres import PrivatePostgres

logger = logging.getLogger(__name__)

FAULTS: dict[str, str] = {
    "backoffice_down": "the back office stops for 30 s",
    "actions_killed": "the action server is killed and started again",
    "postgres_restart": "PostgreSQL restarts",
    "rasa_killed": "Rasa is killed and started again",
    "webhook_thrice": "a webhook is delivered three times",
}

TELEGRAM_SECRET = "faults-telegram-secret"
# A complaint takes six or seven messages; a citizen who needs more than this is stuck.
MAX_TURNS = 25
# A citizen reads and taps for this long between messages (seconds, uniform).
THINK_SECONDS = (0.5, 2.0)
# How long one message may take to be answered, and how long a citizen keeps sending a
# message that gets no answer before giving up on the complaint.
TURN_TIMEOUT_SECONDS = 60.0
GIVE_UP_SECONDS = 240.0
RESEND_SECONDS = 1.0


@dataclass
class Record:
    """One simulated citizen and what happened to them."""

    number: int
    channel: str  # "rest" or "telegram"
    sender: str
    case: Scenario
    start_delay: float
    turns: int = 0
    resent: int = 0  # messages sent again after no answer
    # Why each was sent again: "refused" (no connection, an error status, a timeout) or
    # "silent" (answered with no message).
    resent_why: list[str] = field(default_factory=list)
    told_wait: bool = False
    ended: bool = False  # the complaint reached "filed" or "queued"
    heard: list[str] = field(default_factory=list)  # every bot text in the answers
    # Telegram: update_id -> how many of its deliveries Rasa took as new
    taken: dict[int, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def identity(self) -> str:
        """The chat identity tickets are filed under (``channel:sender``)."""
        return f"{self.channel}:{self.sender}"


@dataclass
class FaultResult:
    """The counts of one fault's run; ``ok`` when every target is met."""

    fault: str
    expected: int
    created: int
    duplicated: int
    lost: int
    told_wait: int
    told_reference: int
    duplicate_turns: int
    resent: int
    resent_silent: int
    told_wait_untold: int
    seconds_to_settle: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.duplicate_turns == 0
            and self.told_reference == self.expected
            and self.created == self.expected
        )

    def row(self) -> str:
        """A Markdown table row: fault, expected, created, duplicated, lost, told-wait,
        told-reference, turns taken twice, messages sent again (of them answered with
        nothing), seconds from the fault's start until settled."""
        return (
            f"| {FAULTS[self.fault]} | {self.expected} | {self.created} | {self.duplicated}"
            f" | {self.lost} | {self.told_wait} | {self.told_reference} | {self.duplicate_turns}"
            f" | {self.resent} ({self.resent_silent}) | {self.seconds_to_settle:.0f} |"
        )


TABLE_HEADER = (
    "| fault | expected | created | duplicated | lost | told-wait | told-reference"
    " | turns twice | sent again (silent) | settled after (s) |"
    "\n|---|---|---|---|---|---|---|---|---|---|"
)


class FaultStack(ChannelStack):
    """The devstack processes with the Telegram channel added (see ``ChannelStack``)."""


class FaultEnvironment:
    """The private PostgreSQL, the fake Bot API and the stack; a context manager.

    Args:
        var_dir: The stack's state folder (outbox, logs, credentials).
        outage_seconds: How long the back office stays down in ``backoffice_down``.
        postgres_down_seconds: How long PostgreSQL stays down in ``postgres_restart``.
    """

    def __init__(
        self, var_dir: Path, *, outage_seconds: float = 30.0, postgres_down_seconds: float = 5.0
    ) -> None:
        self.var_dir = var_dir
        self.outage_seconds = outage_seconds
        self.postgres_down_seconds = postgres_down_seconds
        self._exit = ExitStack()
        self.postgres: PrivatePostgres
        self.telegram: FakeTelegram
        self.stack: FaultStack
        self.catalogue: Catalogue | None = None
        self._numbers = itertools.count(1)
        self._update_ids = itertools.count(10_000)

    def __enter__(self) -> FaultEnvironment:
        try:
            self.postgres = self._exit.enter_context(PrivatePostgres())
            for database in ("conversations", "backoffice"):
                self.postgres.create_database(database)
            self.telegram = self._exit.enter_context(served_in_background(fake_telegram()))
            channels = (
                "channels.telegram.TelegramInput:\n"
                f'  api_base_url: "{self.telegram.base_url}"\n'
                f'  api_file_url: "{self.telegram.base_file_url}"\n'
            )
            self.stack = FaultStack(self._config(), channels)
            self._exit.enter_context(self.stack)
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._exit.close()

    def _config(self) -> StackConfig:
        config = scratch_config(
            self.var_dir,
            {
                # The relay looks for due retries every second (make run: every ten).
                "CIVICDESK_OUTBOX_RETRY_SECONDS": "1",
                "CIVICDESK_TELEGRAM_TOKEN": TOKEN,
                "CIVICDESK_TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
                "CIVICDESK_TELEGRAM_WEBHOOK_URL": "",
                "CIVICDESK_TELEGRAM_MODE": "webhook",
            },
        )
        return dataclasses.replace(
            config,
            database_url=self.postgres.url("backoffice", "postgresql+asyncpg"),
            tracker_db_url=self.postgres.url("conversations"),
        )

    # --- the faults --------------------------------------------------------------------------

    def inject(self, fault: str) -> None:
        """Make ``fault`` happen and end (blocking: run it in a thread)."""
        if fault == "backoffice_down":
            self.stack.halt("backoffice")
            time.sleep(self.outage_seconds)
            self.stack.resume("backoffice")
        elif fault == "actions_killed":
            self.stack.halt("actions", kill=True)
            self.stack.resume("actions")
        elif fault == "postgres_restart":
            self.postgres.restart(self.postgres_down_seconds)
        elif fault == "rasa_killed":
            self.stack.halt("rasa", kill=True)
            self.stack.resume("rasa")
        elif fault != "webhook_thrice":  # that one is in how the citizens' messages arrive
            raise ValueError(f"unknown fault {fault!r}")

    # --- one run -----------------------------------------------------------------------------

    def run(
        self, fault: str, citizens: int, *, seed: int = 7, settle_seconds: float = 180.0
    ) -> FaultResult:
        """N citizens file complaints while ``fault`` happens; returns the counts."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")
        return asyncio.run(self._run(fault, citizens, seed, settle_seconds))

    async def _run(
        self, fault: str, citizens: int, seed: int, settle_seconds: float
    ) -> FaultResult:
        rng = random.Random(seed)  # noqa: S311 (when simulated citizens start, not secrets)
        channel = "telegram" if fault == "webhook_thrice" else "rest"
        spread = max(3.0, citizens * 0.05)
        records = [self._record(channel, rng.uniform(0, spread)) for _ in range(citizens)]
        limits = httpx.Limits(max_connections=citizens * 3 + 10)
        async with httpx.AsyncClient(limits=limits, timeout=TURN_TIMEOUT_SECONDS) as client:
            if self.catalogue is None:
                self.catalogue = await read_catalogue(client, self.stack.config.backoffice_url)
            catalogue = self.catalogue
            tasks = [
                asyncio.create_task(
                    self._complain(record, self._sayer(client, record), catalogue, rng.random())
                )
                for record in records
            ]
            # The fault starts when half of the citizens are two messages in (polled: the
            # counts change in every citizen's task).
            deadline = time.monotonic() + 120
            while (  # noqa: ASYNC110
                sum(record.turns >= 2 for record in records) < (citizens + 1) // 2
                and time.monotonic() < deadline
                and not all(task.done() for task in tasks)
            ):
                await asyncio.sleep(0.1)
            started = time.monotonic()
            logger.info("fault %s starts", fault)
            await asyncio.to_thread(self.inject, fault)
            logger.info("fault %s over after %.1f s", fault, time.monotonic() - started)
            await asyncio.gather(*tasks)
            tickets, told = await self._settle(client, records, settle_seconds)
            settled = time.monotonic() - started
            turns_twice = await self._turns_twice(client, records)
        return self._count(fault, records, tickets, told, settled, turns_twice)

    def _record(self, channel: str, start_delay: float) -> Record:
        number = next(self._numbers)
        # A different house number per citizen, so that each complaint is its own.
        case = complaint(f"{number} Jiefang Road")
        sender = str(700_000 + number) if channel == "telegram" else f"faults-{number}"
        return Record(number, channel, sender, case, start_delay)

    def _sayer(
        self, client: httpx.AsyncClient, record: Record
    ) -> Callable[[str, Reply | None], Awaitable[list[dict[str, Any]]]]:
        if record.channel == "telegram":
            return lambda text, last: self._telegram_say(client, record, text, last)
        return lambda text, last: self._rest_say(client, record, text)

    async def _complain(
        self,
        record: Record,
        say: Callable[[str, Reply | None], Awaitable[list[dict[str, Any]]]],
        catalogue: Catalogue,
        seed: float,
    ) -> None:
        """File one complaint, tapping, sending a message again while it gets no answer."""
        rng = random.Random(seed)  # noqa: S311 (a simulated citizen's pauses, not secrets)
        await asyncio.sleep(record.start_delay)
        citizen = Citizen(record.case, "tap", catalogue)
        message, last = record.case.opening, None
        unanswered_since: float | None = None
        while record.turns < MAX_TURNS:
            why = "silent"
            try:
                messages = await say(message, last)
            except (httpx.HTTPError, TurnRefused):
                messages, why = [], "refused"
            reply = read_reply(messages)
            if not reply.texts:
                # No answer: the platform (or the citizen) sends the same message again.
                now = time.monotonic()
                unanswered_since = unanswered_since or now
                if now - unanswered_since > GIVE_UP_SECONDS:
                    record.problems.append(f"no answer for {GIVE_UP_SECONDS:.0f} s")
                    return
                record.resent += 1
                record.resent_why.append(why)
                await asyncio.sleep(RESEND_SECONDS)
                continue
            unanswered_since = None
            record.turns += 1
            record.heard.extend(reply.texts)
            if reply.step in ("filed", "queued"):
                record.told_wait = record.told_wait or reply.step == "queued"
                record.ended = True
                return
            message, last = citizen.answer(reply), reply
            await asyncio.sleep(rng.uniform(*THINK_SECONDS))
        record.problems.append(f"no ticket after {MAX_TURNS} messages")

    async def _rest_say(
        self, client: httpx.AsyncClient, record: Record, text: str
    ) -> list[dict[str, Any]]:
        response = await client.post(
            f"{self.stack.config.rasa_url}/webhooks/rest/webhook",
            json={"sender": record.sender, "message": text},
        )
        if response.status_code != 200:
            raise TurnRefused(response.status_code)
        return list(response.json())

    async def _telegram_say(
        self, client: httpx.AsyncClient, record: Record, text: str, last: Reply | None
    ) -> list[dict[str, Any]]:
        """Post one update three times, as Telegram redelivers; the bot's messages to the
        chat that the turn sent, as REST-like messages for ``read_reply``."""
        update_id = next(self._update_ids)
        chat_id = int(record.sender)
        pressed = last is not None and text in self._inline_payloads(chat_id)
        update = (
            _callback_update(update_id, chat_id, text)
            if pressed
            else _text_update(update_id, chat_id, text)
        )
        before = len(self._sent_to(chat_id))
        url = self.stack.webhook_url("telegram")
        headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}

        async def post() -> httpx.Response | None:
            try:
                return await client.post(url, json=update, headers=headers)
            except httpx.HTTPError:
                return None

        answers = list(await asyncio.gather(post(), post()))
        answers.append(await post())
        took = [
            r
            for r in answers
            if r is not None and r.status_code == 200 and not r.json()["duplicate"]
        ]
        record.taken[update_id] = len(took)
        if not took:
            raise TurnRefused(0)
        return [_as_rest_message(call) for call in self._sent_to(chat_id)[before:]]

    def _inline_payloads(self, chat_id: int) -> set[str]:
        """The ``callback_data`` of the inline keys of the chat's latest messages."""
        return {
            str(key["callback_data"])
            for call in self._sent_to(chat_id)[-8:]
            for row in (call.get("reply_markup") or {}).get("inline_keyboard") or []
            for key in row
        }

    def _sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        return [
            params
            for name, params in list(self.telegram.calls)
            if name == "sendMessage" and int(params.get("chat_id", 0)) == chat_id
        ]

    # --- counting ----------------------------------------------------------------------------

    async def _settle(
        self, client: httpx.AsyncClient, records: Sequence[Record], settle_seconds: float
    ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """Wait until every citizen has a ticket and was told it and the outbox is drained,
        or ``settle_seconds`` passed; returns each citizen's tickets and every bot text the
        citizen's chat holds, by identity."""
        deadline = time.monotonic() + settle_seconds
        while True:
            tickets = await self._tickets(client, records)
            told = await self._transcripts(client, records)
            settled = all(
                tickets[r.identity]
                and all(
                    any(ref in text for text in told[r.identity]) for ref in tickets[r.identity]
                )
                for r in records
            )
            if (settled and self.outbox_waiting() == 0) or time.monotonic() > deadline:
                return tickets, told
            await asyncio.sleep(2)

    async def _tickets(
        self, client: httpx.AsyncClient, records: Sequence[Record]
    ) -> dict[str, list[str]]:
        assert self.stack.credentials is not None
        headers = {"X-API-Key": self.stack.credentials.api_key}
        limit = asyncio.Semaphore(10)

        async def one(record: Record) -> tuple[str, list[str]]:
            async with limit:
                try:
                    reply = await client.get(
                        f"{self.stack.config.backoffice_url}/api/v1/citizens/"
                        f"{record.identity}/tickets",
                        headers=headers,
                    )
                except httpx.HTTPError:
                    return record.identity, []
            if reply.status_code != 200:
                return record.identity, []
            return record.identity, [t["service_request_id"] for t in reply.json()["tickets"]]

        return dict(await asyncio.gather(*(one(record) for record in records)))

    async def _transcripts(
        self, client: httpx.AsyncClient, records: Sequence[Record]
    ) -> dict[str, list[str]]:
        """What each citizen's chat holds from the bot: the Bot API's messages to the chat
        (Telegram), or Rasa's stored conversation (REST, where pushed messages land), with
        the answers the citizen got."""
        limit = asyncio.Semaphore(10)

        async def one(record: Record) -> tuple[str, list[str]]:
            if record.channel == "telegram":
                sent = self._sent_to(int(record.sender))
                return record.identity, [str(call.get("text") or "") for call in sent]
            async with limit:
                try:
                    reply = await client.get(
                        f"{self.stack.config.rasa_url}/conversations/{record.sender}/tracker",
                        params={"token": self.stack.rasa_token, "include_events": "ALL"},
                    )
                except httpx.HTTPError:
                    return record.identity, list(record.heard)
            events = reply.json().get("events", []) if reply.status_code == 200 else []
            said = [str(e.get("text") or "") for e in events if e.get("event") == "bot"]
            return record.identity, [*record.heard, *said]

        return dict(await asyncio.gather(*(one(record) for record in records)))

    async def _turns_twice(self, client: httpx.AsyncClient, records: Sequence[Record]) -> int:
        """Telegram updates that became more than one turn, read from Rasa's conversations
        (the adapter gives each turn the update's id as its ``message_id``)."""
        twice = 0
        for record in records:
            if record.channel != "telegram":
                continue
            reply = await client.get(
                f"{self.stack.config.rasa_url}/conversations/{record.sender}/tracker",
                params={"token": self.stack.rasa_token, "include_events": "ALL"},
            )
            reply.raise_for_status()
            ids = [
                e.get("message_id") for e in reply.json().get("events", []) if e["event"] == "user"
            ]
            twice += len(ids) - len(set(ids))
        return twice

    def outbox_waiting(self) -> int:
        """Rows of the action server's outbox still to be sent (pending or being sent)."""
        path = self.var_dir / "outbox.sqlite3"
        if not path.is_file():
            return 0
        with sqlite3.connect(path, timeout=10) as db:
            (count,) = db.execute(
                "SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')"
            ).fetchone()
        return int(count)

    def _count(
        self,
        fault: str,
        records: Sequence[Record],
        tickets: dict[str, list[str]],
        told: dict[str, list[str]],
        settled: float,
        turns_twice: int,
    ) -> FaultResult:
        problems = [f"{r.identity}: {p}" for r in records for p in r.problems]
        told_reference = 0
        told_wait_untold = 0
        for record in records:
            references = tickets[record.identity]
            heard = told[record.identity]
            is_told = bool(references) and any(ref in text for ref in references for text in heard)
            told_reference += is_told
            told_wait_untold += record.told_wait and not is_told
            if not references:
                problems.append(f"{record.identity}: no ticket")
            elif len(references) > 1:
                problems.append(f"{record.identity}: {len(references)} tickets")
            elif not is_told:
                problems.append(f"{record.identity}: never told {references[0]}")
        # Deliveries the adapter took as new beyond the first, and updates that Rasa holds as
        # more than one turn: each must be none.
        duplicate_turns = sum(max(0, n - 1) for r in records for n in r.taken.values())
        duplicate_turns += turns_twice
        waiting = self.outbox_waiting()
        if waiting:
            problems.append(f"{waiting} outbox row(s) still to send")
        return FaultResult(
            fault=fault,
            expected=len(records),
            created=sum(len(set(refs)) for refs in tickets.values()),
            duplicated=sum(max(0, len(set(refs)) - 1) for refs in tickets.values()),
            lost=sum(not refs for refs in tickets.values()),
            told_wait=sum(r.told_wait for r in records),
            told_reference=told_reference,
            duplicate_turns=duplicate_turns,
            resent=sum(r.resent for r in records),
            resent_silent=sum(r.resent_why.count("silent") for r in records),
            told_wait_untold=told_wait_untold,
            seconds_to_settle=settled,
            problems=problems,
        )


CATALOGUE = Path(__file__).resolve().parents[2] / "backoffice/src/civicdesk_backoffice/catalogue"
SERVICE = "road_damage"
OPENING = "there is a deep pothole in the road, cars swerve round it"


def complaint(place: str) -> Scenario:
    """A tapping citizen reporting a pothole at ``place`` who knows an answer to each of the
    service's required questions (its first choice, or "2" / "yesterday")."""
    service = next(
        entry
        for path in sorted(CATALOGUE.glob("*.yml"))
        for entry in yaml.safe_load(path.read_text(encoding="utf-8")).get("services") or []
        if entry["code"] == SERVICE
    )
    answers: dict[str, Answer] = {}
    for attribute in service.get("attributes") or []:
        if attribute.get("required"):
            keys = tuple(str(v["key"]) for v in (attribute.get("values") or [])[:1])
            say = {"number": "2", "datetime": "yesterday"}.get(attribute["datatype"], "monday")
            answers[attribute["code"]] = Answer(keys=keys, say=say)
    return Scenario(
        id=f"faults-{SERVICE}",
        kind="complaint",
        persona="",
        language="en",
        opening=OPENING,
        description=OPENING,
        place=place,
        service_says=None,
        answers=answers,
        contact=Contact(decline="no thanks"),
        expect=Expected(service_code=SERVICE),
    )


class TurnRefused(Exception):
    """A message was answered with an error status (it is sent again)."""


def _text_update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Citizen"},
            "text": text,
        },
    }


def _callback_update(update_id: int, chat_id: int, data: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cbq-{update_id}",
            "from": {"id": chat_id, "is_bot": False, "first_name": "Citizen"},
            "chat_instance": f"ci-{chat_id}",
            "data": data,
            "message": {
                "message_id": update_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "text": "buttons",
            },
        },
    }


def _as_rest_message(call: dict[str, Any]) -> dict[str, Any]:
    """A ``sendMessage`` call as the REST channel would have said it: text and buttons. An
    inline key's payload is its ``callback_data``; a reply-keyboard key sends its title."""
    markup = call.get("reply_markup") or {}
    buttons: list[dict[str, str]] = []
    for row in markup.get("inline_keyboard") or []:
        buttons.extend({"title": key["text"], "payload": key["callback_data"]} for key in row)
    for row in markup.get("keyboard") or []:
        for key in row:
            title = key["text"] if isinstance(key, dict) else str(key)
            buttons.append({"title": title, "payload": title})
    return {"text": call.get("text"), "buttons": buttons}


__all__ = [
    "FAULTS",
    "TABLE_HEADER",
    "FaultEnvironment",
    "FaultResult",
    "Record",
]
