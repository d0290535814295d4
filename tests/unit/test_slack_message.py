"""Block Kit for proposals, decisions and alerts: content, buttons, and no contact details ever."""

import orjson
import pytest

from notifier.message import (
    ARCHIVE_ACTION,
    KEEP_ACTION,
    build_alert,
    build_already_decided,
    build_archive_outcome,
    build_decided,
    build_proposal,
    redact,
)

EXPLANATION = {
    "requirements": [
        {"interview_id": "int-1", "interview_title": "Technical screen", "field": "overall_score",
         "operator": ">=", "threshold": 3, "values": [2, 4], "passed": False},
        {"interview_id": "int-2", "field": "culture_fit", "operator": "==", "threshold": "yes",
         "values": ["yes"], "passed": True},
    ],
}


def _proposal(**overrides):
    args = dict(command_id="cmd-42", application_id="app-7", candidate_id="cand-9", candidate_name="Ada Lovelace",
                job_title="Backend Engineer", stage_title="Technical Screen", explanation=EXPLANATION)
    return build_proposal(**{**args, **overrides})


def _buttons(blocks):
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"] if e["type"] == "button"]


def test_a_proposal_names_the_candidate_job_and_stage_and_links_to_the_application():
    text, blocks = _proposal()
    dumped = orjson.dumps(blocks).decode()
    assert "Ada Lovelace" in text and "Backend Engineer" in text
    assert "Ada Lovelace" in dumped and "Technical Screen" in dumped
    assert "https://app.ashbyhq.com/candidates/cand-9?applicationId=app-7" in dumped


def test_a_passed_in_url_replaces_the_default_link():
    _, blocks = _proposal(url="https://ashby.example/app-7")
    assert "https://ashby.example/app-7" in orjson.dumps(blocks).decode()


def test_each_requirement_shows_its_values_against_its_threshold_with_pass_or_fail():
    _, blocks = _proposal()
    lines = [b["text"]["text"] for b in blocks if b["type"] == "section" and "needs" in b["text"]["text"]]
    assert len(lines) == 2
    assert "Technical screen" in lines[0] and "overall_score" in lines[0]
    assert "2, 4" in lines[0] and "needs &gt;= 3" in lines[0] and "fail" in lines[0]
    assert "int-2" in lines[1] and "culture_fit" in lines[1] and "needs == yes" in lines[1] and "pass" in lines[1]


def test_both_buttons_carry_the_proposal_command_id_and_archive_is_dangerous():
    _, blocks = _proposal()
    buttons = {b["action_id"]: b for b in _buttons(blocks)}
    assert set(buttons) == {ARCHIVE_ACTION, KEEP_ACTION}
    assert buttons[ARCHIVE_ACTION]["value"] == buttons[KEEP_ACTION]["value"] == "cmd-42"
    assert buttons[ARCHIVE_ACTION]["style"] == "danger"
    assert buttons[ARCHIVE_ACTION]["text"]["text"] == "Archive"
    assert buttons[KEEP_ACTION]["text"]["text"] == "Keep in process"


def test_the_actions_block_names_the_application():
    _, blocks = _proposal()
    assert [b["block_id"] for b in blocks if b["type"] == "actions"] == ["autoadvance_proposal:app-7"]


@pytest.mark.parametrize("contact", ["ada@example.com", "mailto:Ada.L+jobs@mail.example.co.uk",
                                     "+44 20 7946 0958", "(415) 555-0100", "4155550100"])
def test_no_email_or_phone_number_reaches_slack_even_when_passed_in(contact):
    explanation = {"requirements": [{**EXPLANATION["requirements"][0], "values": [f"call {contact}"],
                                     "interview_title": f"Screen with {contact}"}],
                   "candidate_email": contact, "candidate_phone": contact}
    text, blocks = _proposal(candidate_name=f"Ada Lovelace <{contact}>", job_title=f"Engineer {contact}",
                             explanation=explanation)
    alert_text, alert_blocks = build_alert("archive_failed", f"could not reach {contact}", "app-7")
    for dumped in (text, orjson.dumps(blocks).decode(), alert_text, orjson.dumps(alert_blocks).decode()):
        assert contact.removeprefix("mailto:") not in dumped
        assert "@example" not in dumped and "555" not in dumped and "7946" not in dumped


def test_scores_dates_and_ids_are_not_mistaken_for_phone_numbers():
    for text in ("3.5", "2026-11-23", "1200000", "9f1c2d44-1234-5678-9012-34567890abcd", "4, 3, 5"):
        assert redact(text) == text


def test_user_text_cannot_form_mentions_or_links():
    _, blocks = _proposal(candidate_name="<!channel> <https://evil.example|click>")
    dumped = orjson.dumps(blocks).decode()
    assert "<!channel>" not in dumped and "<https://evil.example" not in dumped


def test_many_requirements_are_capped_to_fit_slacks_block_limit():
    reqs = [{**EXPLANATION["requirements"][0], "interview_id": f"int-{i}"} for i in range(80)]
    _, blocks = _proposal(explanation={"requirements": reqs})
    assert len(blocks) <= 50
    assert "40 more requirements" in orjson.dumps(blocks).decode()


def test_a_clicked_archive_says_archiving_not_archived_until_ashby_answers():
    _, original = _proposal()
    text, blocks = build_decided(original, "U123", "archive")
    dumped = orjson.dumps(blocks).decode()
    assert not _buttons(blocks)
    assert text == "Archiving… asked by <@U123>"
    assert "Archived" not in dumped and "overall_score" in dumped
    kept_text, _ = build_decided(original, "U9", "keep")
    assert kept_text == "Kept in process by <@U9>"


def test_ashbys_answer_to_an_archive_is_shown_as_it_was():
    _, original = _proposal()
    done, blocks = build_archive_outcome(original, "U123", "succeeded", None)
    assert done == "Archived by <@U123>" and not _buttons(blocks)
    failed, blocks = build_archive_outcome(original, "U123", "failed", "AshbyError: candidate not found")
    assert failed.startswith("Archive failed") and "candidate not found" in orjson.dumps(blocks).decode()
    assert "Archived by" not in orjson.dumps(blocks).decode()
    skipped, blocks = build_archive_outcome(original, None, "skipped", "application left stage s1 (now in s2)")
    assert "skipped" in skipped and "moved the candidate" in orjson.dumps(blocks).decode()


def test_an_alert_carries_its_kind_text_and_application():
    text, blocks = build_alert("command_failed", "Ashby said 404", "app-7")
    dumped = orjson.dumps(blocks).decode()
    assert "command_failed" in text and "Ashby said 404" in dumped and "app-7" in dumped


def test_the_already_decided_reply_says_what_was_chosen_and_by_whom():
    assert build_already_decided("archive", "U1") == "This proposal was already archived by <@U1>; your click changed nothing."
    assert "kept in process" in build_already_decided("keep", None)


def test_each_requirement_lists_every_interviewers_submission_with_name_value_and_time_but_no_email():
    explanation = {"requirements": [
        {"interview_id": "int-1", "interview_title": "Technical screen", "field": "overall_score",
         "operator": ">=", "threshold": 3, "values": [2, 4], "passed": False, "checks": [
             {"feedback_id": "f1", "submitted_by": "u-ivan", "submitted_at": "2026-11-02T10:05:00+00:00",
              "value": 2, "passed": False},
             {"feedback_id": "f2", "submitted_by": "u-iris", "submitted_at": "2026-11-02T11:30:00+00:00",
              "value": 4, "passed": True}]}]}
    _, blocks = _proposal(explanation=explanation,
                          interviewer_names={"u-ivan": "Ivan Interviewer", "u-iris": "iris@example.com"})
    [section] = [b["text"]["text"] for b in blocks if b["type"] == "section" and "needs" in b["text"]["text"]]
    ivan, iris = section.splitlines()[1:]
    assert "Ivan Interviewer" in ivan and "= 2" in ivan and "2026-11-02 10:05 UTC" in ivan and ":x:" in ivan
    assert "= 4" in iris and "11:30 UTC" in iris and "example.com" not in iris


# --- the undo window (issue 21) -----------------------------------------------------------------


def _window_buttons(blocks: list) -> dict:
    return {e["action_id"]: e for b in blocks if b.get("type") == "actions" for e in b["elements"]}


def test_an_open_window_offers_undo_and_says_nothing_reached_ashby_yet():
    from notifier.message import UNDO_ACTION, UNDO_BLOCK_PREFIX, build_window

    _, original = _proposal()
    text, blocks = build_window(original, state="scheduled", application_id="app-7", archive_command_id="cmd-9",
                                due_at="2026-11-02T12:35:00+00:00", asked_by="U1")
    assert text == "Archive scheduled asked by <@U1> for 2026-11-02 12:35 UTC"
    buttons = _window_buttons(blocks)
    assert set(buttons) == {UNDO_ACTION} and buttons[UNDO_ACTION]["value"] == "cmd-9"
    assert [b["block_id"] for b in blocks if b.get("type") == "actions"] == [f"{UNDO_BLOCK_PREFIX}app-7"]
    assert "Nothing has been sent to Ashby yet" in orjson.dumps(blocks).decode()


@pytest.mark.parametrize(("state", "head", "says"), [
    ("undone", "Archive undone by <@U2>", "Nothing was sent to Ashby"),
    ("released", "Archiving… by the rule", "waiting for Ashby"),
    ("cancelled", "Not archived (cancelled): merged into app-9", "Nothing was sent to Ashby"),
])
def test_a_settled_window_says_what_became_of_it_without_buttons(state, head, says):
    from notifier.message import build_window

    text, blocks = build_window([], state=state, application_id="app-7", archive_command_id="cmd-9",
                                due_at="2026-11-02T12:35:00Z", asked_by=None, settled_by="U2",
                                reason="merged into app-9")
    assert text.startswith(head) and says in orjson.dumps(blocks).decode() and _window_buttons(blocks) == {}


def test_a_late_undo_is_told_what_really_happened():
    from notifier.message import build_undo_refused

    done = build_undo_refused("too_late", "the undo window ended at T", "succeeded", None)
    assert done.startswith("Too late to undo") and "Ashby confirmed the archive" in done
    assert "has not answered yet" in build_undo_refused("too_late", "ended", None, None)
    assert "did not archive" in build_undo_refused("too_late", "ended", "failed", "Ashby 400 invalid_input")
    assert build_undo_refused("already_undone", "undone by U2", None, None).startswith("Nothing to undo")
