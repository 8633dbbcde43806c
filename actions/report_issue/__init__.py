"""Free-text-first intake of a complaint, an application or feedback: ``intake_form``.

The citizen's first message is taken as the description when it says enough; the catalogue is
searched with it and the best matches are offered as buttons (or browsed by topic); the chosen
service's definition then says what else is asked: its required Open311 attributes one by
one, a place and a photo only where the service needs them (in its own words where it has
them), whether staff may contact the citizen, and a summary to confirm. Filing goes through
the outbox. Every question takes a button or an answer in words; ``actions/answer_matching.py``
is how words are matched to options.

The modules, in the order of the conversation:

- ``opening``: the first message (``action_start_intake``), the description and the place in it;
- ``service_step``: which service, by search, more matches or topics;
- ``contact_step``: may staff contact the citizen, and the details read from one message;
- ``steps``: "Step n of m", counted from the chosen service;
- ``asking``: the ``action_ask_<slot>`` questions, on the form engine (``actions/form_steps.py``);
- ``form``: ``validate_intake_form``, the steps and every answer's check;
- ``submission``: re-checking and filing, or cancelling;
- ``state``: the slots and their readers; ``delivered``: what the outbox sent meanwhile.

Slots read and set: ``issue_description``, ``service_candidates``, ``service_page``,
``service_code``, ``service_name``, ``service_questions``, ``service_attributes``,
``service_needs_photo``, ``service_needs_location``, ``service_prompts``,
``attribute_answer``, ``issue_location``, ``issue_coordinates``, ``issue_photo``,
``service_browse``, ``contact_choice``, ``contact_details``, ``contact_name``,
``contact_phone``, ``contact_email``, ``confirm_submission``, ``failed_attempts``,
``intake_kind``; ``service_request_id`` after filing.
"""

from actions.report_issue.asking import (
    ActionAskAttributeAnswer,
    ActionAskConfirmSubmission,
    ActionAskContactChoice,
    ActionAskContactDetails,
    ActionAskContactName,
    ActionAskIssueDescription,
    ActionAskIssueLocation,
    ActionAskIssuePhoto,
    ActionAskServiceCode,
)
from actions.report_issue.delivered import MOVE_DONE, announce_delivered
from actions.report_issue.form import ValidateIntakeForm
from actions.report_issue.opening import (
    ActionAnswerStrayReply,
    ActionStartIntake,
    allowed_media_bases,
    location_in,
    says_what_is_wrong,
)
from actions.report_issue.submission import ActionCancelComplaint, ActionSubmitComplaint

__all__ = [
    "MOVE_DONE",
    "ActionAnswerStrayReply",
    "ActionAskAttributeAnswer",
    "ActionAskConfirmSubmission",
    "ActionAskContactChoice",
    "ActionAskContactDetails",
    "ActionAskContactName",
    "ActionAskIssueDescription",
    "ActionAskIssueLocation",
    "ActionAskIssuePhoto",
    "ActionAskServiceCode",
    "ActionCancelComplaint",
    "ActionStartIntake",
    "ActionSubmitComplaint",
    "ValidateIntakeForm",
    "allowed_media_bases",
    "announce_delivered",
    "location_in",
    "says_what_is_wrong",
]
