"""Nothing personal in any process's log, and each process's /metrics moves with a turn.

The three real processes run with CivicDesk's own loggers at DEBUG (``CIVICDESK_LOG_LEVEL``
for Rasa and the action server, ``BACKOFFICE__OWN_LOG_LEVEL`` for the back office) and
everything else at INFO. A citizen files a complaint through Rasa's REST channel with a phone
number, an email address and a name. Then every line of the three logs is read: the phone
number appears in none, and the email address, the name, the words of the complaint, the
place and the raw sender id appear in no line at INFO or above.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from devstack import Stack, scratch_config
from tests.e2e.local_stack import started
from tests.e2e.test_walking_skeleton import say, template_pattern
from tests.metrics_text import sample

SENDER = "citizen-obs-7731"
PHONE = "+86 139 2468 1357"
EMAIL = "wenjing.qiao@example.net"
FIRST, LAST = "Wenjing", "Qiao"
DESCRIPTION = "The lamp by the kindergarten gate blinks all night"
PLACE = "88 Xiangyang Lane"

# "2026-12-07 11:30:00,123 INFO ..." (action server, back office) or
# "2026-12-07 11:30:00 INFO     rasa..." (Rasa's coloredlogs format).
_RECORD_START = re.compile(
    r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)? +(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b"
)
_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


def leveled_lines(text: str) -> Iterator[tuple[int, str]]:
    """Each line with the level of the record it belongs to.

    A traceback or wrapped message line takes its record's level; a line before any record
    (something printed) counts as WARNING, so it is checked like a logged one.
    """
    level = _LEVELS["WARNING"]
    for line in text.splitlines():
        match = _RECORD_START.match(line)
        if match:
            level = _LEVELS[match.group(1)]
        yield level, line


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = scratch_config(
        tmp_path_factory.mktemp("var"),
        {
            "CIVICDESK_LOG_LEVEL": "DEBUG",
            "LOG_LEVEL": "INFO",
            "BACKOFFICE__LOG_LEVEL": "INFO",
            "BACKOFFICE__OWN_LOG_LEVEL": "DEBUG",
            "CIVICDESK_LOG_HASH_KEY": "e2e-log-key",
        },
    )
    with started(Stack(config)) as running:
        yield running


def scrape(url: str) -> str:
    answer = httpx.get(f"{url}/metrics", timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.text


def file_complaint_with_contact(stack: Stack) -> tuple[str, int]:
    """File the complaint; its reference and how many messages the citizen sent."""
    sent = 0

    def tell(message: str) -> list[str]:
        nonlocal sent
        sent += 1
        return say(stack, SENDER, message)

    tell("I want to report a problem")
    tell(DESCRIPTION)
    [asked] = tell('/choose_option{"choice": "street_light"}')
    if template_pattern("utter_ask_issue_location").match(asked):
        [asked] = tell(PLACE)
    assert template_pattern("utter_ask_contact_choice").match(asked), asked
    [ask_details] = tell('/choose_option{"choice": "contact"}')
    assert template_pattern("utter_ask_contact_details").match(ask_details), ask_details
    [ask_name] = tell(f"{PHONE} or {EMAIL}")
    assert template_pattern("utter_ask_contact_name").match(ask_name), ask_name
    [summary] = tell(f"{FIRST} {LAST}")
    assert template_pattern("utter_ask_confirm_submission_with_contact").match(summary), summary
    replies = tell('/choose_option{"choice": "submit"}')
    filed = template_pattern("utter_complaint_filed").match(replies[0])
    assert filed, replies
    return filed["service_request_id"], sent


def test_a_filed_complaint_leaves_nothing_personal_in_the_logs_and_moves_every_metric(
    stack: Stack,
) -> None:
    urls = {
        "rasa": stack.config.rasa_url,
        "actions": stack.config.actions_url,
        "backoffice": stack.config.backoffice_url,
    }
    before = {name: scrape(url) for name, url in urls.items()}
    reference, sent = file_complaint_with_contact(stack)
    after = {name: scrape(url) for name, url in urls.items()}

    # Every process counted the complaint.
    turns = "civicdesk_rasa_turns_total"
    assert (
        sample(after["rasa"], turns, channel="rest") - sample(before["rasa"], turns, channel="rest")
        == sent
    )
    runs = "civicdesk_actions_run_seconds_count"
    assert sample(after["actions"], runs) > sample(before["actions"], runs)
    created = "civicdesk_backoffice_tickets_created_total"
    assert sample(after["backoffice"], created) - sample(before["backoffice"], created) == 1
    for text in after.values():
        for personal in (PHONE, EMAIL, LAST, SENDER, reference):
            assert personal not in text

    phone_digits = re.sub(r"\D", "", PHONE)
    unlogged_at_info = (EMAIL, FIRST, LAST, DESCRIPTION, "kindergarten", PLACE, SENDER)
    seen_records = 0
    for name in ("rasa", "actions", "backoffice"):
        log = stack.log_path(name).read_text(errors="replace")
        for level, line in leveled_lines(log):
            seen_records += 1
            assert PHONE not in line, (name, line)
            assert phone_digits not in re.sub(r"\D", "", line), (name, line)
            assert "2468 1357" not in line, (name, line)
            if level >= _LEVELS["INFO"]:
                for personal in unlogged_at_info:
                    assert personal not in line, (name, personal, line)
    # The logs were really written at DEBUG for our modules (else the check proves little).
    rasa_log = stack.log_path("rasa").read_text(errors="replace")
    actions_log = stack.log_path("actions").read_text(errors="replace")
    assert seen_records > 10
    assert re.search(r"DEBUG +(channels|bot)\.", rasa_log) or "DEBUG" in actions_log
    # The filing is traceable by its ticket reference.
    assert reference in stack.log_path("backoffice").read_text(errors="replace")
