"""Where the citizen is in the intake: "Step n of m".

The steps are counted from the chosen service: what it is about, which service, each of its
questions, the place and the photo where the service asks for them, how we may contact you
(one step, however many messages it takes), and the summary. Until a service is chosen the
count assumes a place and no questions; from step 3 on the total no longer changes unless
the citizen goes back and chooses another service.
"""

from __future__ import annotations

from rasa_sdk import Tracker

from actions.report_issue.state import (
    CONTACT_STEPS,
    answers_of,
    needs_location,
    needs_photo,
    questions_of,
)


def _first_after_questions(tracker: Tracker) -> int:
    return 3 + len(questions_of(tracker))


def total_steps(tracker: Tracker) -> int:
    return (
        _first_after_questions(tracker)
        + int(needs_location(tracker))
        + int(needs_photo(tracker))
        + 1  # contact
    )


def step_number(tracker: Tracker, slot: str) -> int:
    """Where ``slot`` is in the process, counting from 1."""
    if slot == "issue_description":
        return 1
    if slot == "service_code":
        return 2
    if slot == "attribute_answer":
        return min(3 + len(answers_of(tracker)), max(_first_after_questions(tracker) - 1, 3))
    place = _first_after_questions(tracker)
    if slot == "issue_location":
        return place
    photo = place + int(needs_location(tracker))
    if slot == "issue_photo":
        return photo
    if slot in CONTACT_STEPS:
        return photo + int(needs_photo(tracker))
    return total_steps(tracker)
