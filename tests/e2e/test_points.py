"""Points for confirmed reports, end to end: the offer after filing, staff confirming, "my points".

Three real processes and the trained model (devstack), the back office on its SQLite file; the
citizen chats on Rasa's REST channel (identity ``rest:<sender>``) and staff confirm the report
through the staff API with the dev credentials.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from devstack import Stack, scratch_config
from tests.e2e.local_stack import started
from tests.e2e.test_follow_ups import staff
from tests.e2e.test_walking_skeleton import DOMAIN, response_text, say, say_full, template_pattern


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with started(Stack(scratch_config(tmp_path_factory.mktemp("var")))) as running:
        yield running


def chinese(key: str) -> str:
    return str(DOMAIN["responses"][key][1]["text"])


def points(stack: Stack, sender: str) -> dict[str, object]:
    assert stack.credentials is not None
    reply = httpx.get(
        f"{stack.config.backoffice_url}/api/v1/citizens/rest:{sender}/points",
        headers={"X-API-Key": stack.credentials.api_key},
    )
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def file_and_see_the_offer(stack: Stack, sender: str) -> tuple[str, dict[str, object]]:
    say(stack, sender, "The street lamp outside number 12 has been dark for a week")
    say(stack, sender, '/choose_option{"choice": "street_light"}')
    say(stack, sender, "12 Jiefang Road")
    say(stack, sender, '/choose_option{"choice": "anonymous"}')
    replies = say_full(stack, sender, '/choose_option{"choice": "submit"}')
    filed = template_pattern("utter_complaint_filed").match(replies[0]["text"])
    assert filed, replies
    return filed["service_request_id"], replies[-1]


def test_opt_in_then_staff_confirm_then_my_points(stack: Stack) -> None:
    sender = "citizen-80"
    reference, offer = file_and_see_the_offer(stack, sender)

    assert offer["text"] == response_text("utter_offer_points")
    assert [b["payload"] for b in offer["buttons"]] == ["/affirm", "/deny"]
    assert say(stack, sender, "/affirm") == [
        response_text("utter_points_opted_in").format(service_request_id=reference)
    ]
    assert say(stack, sender, "my points") == [response_text("utter_points_none")]

    confirmed = staff(
        stack, "POST", f"/tickets/{reference}/status", json={"status": "acknowledged"}
    )
    assert confirmed.status_code == 200, confirmed.text
    # Resolving it later earns nothing more: one point per confirmed report.
    resolved = staff(stack, "POST", f"/tickets/{reference}/status", json={"status": "resolved"})
    assert resolved.status_code == 200, resolved.text

    assert say(stack, sender, "how many points do I have") == [
        response_text("utter_points_balance_one").format(references=reference)
    ]
    assert points(stack, sender)["balance"] == 1
    # The same in Chinese: the question needs no English.
    assert say(stack, sender, "我的积分") == [
        chinese("utter_points_balance_one").format(references=reference)
    ]


def test_the_offer_ignored_is_no_step_and_no_thanks_is_kept(stack: Stack) -> None:
    sender = "citizen-81"
    reference, _ = file_and_see_the_offer(stack, sender)

    # Something else instead of an answer is handled as without the question.
    status = say(stack, sender, f"status of {reference}")
    assert status, "the status is answered"
    assert not any("point" in text for text in status), status

    other, _ = file_and_see_the_offer(stack, sender)
    assert say(stack, sender, "no thanks") == [
        response_text("utter_points_declined").format(service_request_id=other)
    ]
    staff(stack, "POST", f"/tickets/{other}/status", json={"status": "acknowledged"})
    assert points(stack, sender) == {"identity": f"rest:{sender}", "balance": 0, "awards": []}


def test_a_chinese_citizen_types_yes_and_is_answered_in_chinese(stack: Stack) -> None:
    sender = "citizen-82"
    say(stack, sender, "我家楼下的路灯坏了一个星期了，晚上黑乎乎的")
    say(stack, sender, '/choose_option{"choice": "street_light"}')
    say(stack, sender, "天河区体育西路12号门口")
    say(stack, sender, "不用了")  # replies in this chat only
    replies = say_full(stack, sender, "是的，提交吧")
    assert replies[-1]["text"] == chinese("utter_offer_points"), replies
    assert [b["payload"] for b in replies[-1]["buttons"]] == ["/affirm", "/deny"]
    reference = str(points_reference(stack, sender))

    assert say(stack, sender, "好的") == [
        chinese("utter_points_opted_in").format(service_request_id=reference)
    ]
    assert say(stack, sender, "积分多少") == [chinese("utter_points_none")]


def points_reference(stack: Stack, sender: str) -> object:
    """The reference of the citizen's latest ticket, read from the back office."""
    assert stack.credentials is not None
    reply = httpx.get(
        f"{stack.config.backoffice_url}/api/v1/citizens/rest:{sender}/tickets",
        headers={"X-API-Key": stack.credentials.api_key},
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["tickets"][0]["service_request_id"]
