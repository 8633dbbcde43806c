"""Conversations survive restarts: Rasa and the action server stop and start in mid-intake.

The stack keeps conversations in its SQLite file (endpoints.yml's tracker store, as
``make run`` does), so after both processes are restarted the citizen's next message answers
the question the bot had asked, and the ticket is filed.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from devstack import Stack, scratch_config
from tests.e2e.local_stack import started
from tests.e2e.test_walking_skeleton import ANONYMOUS, say, say_full, template_pattern


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with started(Stack(scratch_config(tmp_path_factory.mktemp("var")))) as running:
        yield running


def test_a_half_filed_complaint_goes_on_after_rasa_and_actions_restart(stack: Stack) -> None:
    sender = "citizen-restarted"
    description = "The street lamp outside number 7 has been dark since Monday"
    location = "7 Gulou East Street"
    say(stack, sender, "I want to report a problem")
    offered = say_full(stack, sender, description)
    street_light = '/choose_option{"choice": "street_light"}'
    assert street_light in [button["payload"] for button in offered[0].get("buttons", [])]
    [ask_location] = say(stack, sender, street_light)
    assert template_pattern("utter_ask_issue_location").match(ask_location), ask_location
    before = stack.pids()

    stack.restart("actions", "rasa")

    after = stack.pids()
    assert after["rasa"] != before["rasa"]
    assert after["actions"] != before["actions"]
    # The answer to the question asked before the restart is taken, and the intake goes on.
    replies = say(stack, sender, location)
    assert template_pattern("utter_ask_contact_choice").match(replies[0]), replies
    [summary] = say(stack, sender, ANONYMOUS)
    assert template_pattern("utter_ask_confirm_submission").match(summary), summary
    replies = say(stack, sender, '/choose_option{"choice": "submit"}')
    filed = template_pattern("utter_complaint_filed").match(replies[0])
    assert filed, replies
    public = httpx.get(
        f"{stack.config.backoffice_url}/open311/v2/requests/{filed['service_request_id']}.json"
    )
    assert public.status_code == 200
    [ticket] = public.json()
    assert (ticket["service_code"], ticket["description"], ticket["address"]) == (
        "street_light",
        description,
        location,
    )
    assert stack.config.tracker_database_path.is_file()
