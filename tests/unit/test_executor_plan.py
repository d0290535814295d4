"""The executor's stale-decision guard."""

import pytest

from executor.plan import archived_stages, classify

ADV = {"from_stage_id": "s1", "to_stage_id": "s2"}
ARC = {"from_stage_id": "s1", "archive_reason_id": "r1"}


@pytest.mark.parametrize(("kind", "payload", "stage", "status", "expected"), [
    ("AdvanceApplication", ADV, "s1", "Active", "call"),
    ("AdvanceApplication", ADV, "s2", "Active", "succeeded"),
    ("AdvanceApplication", ADV, "s3", "Active", "skipped"),
    ("AdvanceApplication", ADV, "s1", "Archived", "skipped"),
    ("AdvanceApplication", ADV, "s1", "Hired", "skipped"),
    ("ArchiveApplication", ARC, "s1", "Active", "call"),
    ("ArchiveApplication", ARC, "arch", "Archived", "succeeded"),
    ("ArchiveApplication", ARC, "s0", "Active", "skipped"),
])
def test_commands_act_only_on_applications_still_where_the_decision_saw_them(kind, payload, stage, status,
                                                                             expected):
    step = classify(kind, payload, stage, status, {"arch"})
    assert step.action == expected
    if expected == "skipped":
        assert step.reason


def test_the_archived_stage_is_found_by_its_type():
    stages = [{"id": "a", "type": "Active"}, {"id": "z", "type": "Archived"}]
    assert archived_stages(stages) == {"z"}


def test_a_command_for_an_application_moved_to_another_job_is_skipped_with_the_reason():
    step = classify("AdvanceApplication", {**ADV, "job_id": "job-1"}, "s1", "Active", set(), None, "job-2")
    assert step.action == "skipped" and "moved to job job-2" in (step.reason or "")
    assert classify("AdvanceApplication", {**ADV, "job_id": "job-1"}, "s1", "Active", set(), None,
                    "job-1").action == "call"


def test_ashby_saying_the_application_does_not_exist_reads_as_gone():
    from executor.plan import is_gone

    assert is_gone("application_not_found") and is_gone("not_found") and not is_gone("invalid_input")
    assert not is_gone(None)
