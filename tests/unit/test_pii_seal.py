"""Where a candidate's personal data is found in an event and how it is sealed (contracts.pii, privacy.crypto)."""

from __future__ import annotations

import os

import orjson

from contracts.pii import (
    ERASED,
    candidate_token,
    fill_candidate_names,
    open_tree,
    personal_candidates,
    seal_tree,
)
from privacy.crypto import Keyring, master_key

INFO = {"id": "app-1", "status": "Active", "submitterClientIp": "79.255.55.222",
        "candidate": {"id": "cand-1", "name": "Zelda Quibble", "createdAt": "2026-01-01T00:00:00Z",
                      "primaryEmailAddress": {"value": "zelda@example.org", "type": "Personal", "isPrimary": True},
                      "phoneNumbers": [{"value": "+44 20 7946 0958"}], "socialLinks": [], "customFields": []},
        "currentInterviewStage": {"id": "stg-1"}, "job": {"id": "job-1", "title": "Engineer"},
        "hiringTeam": [{"userId": "usr-1", "role": "Recruiter"}]}


def sealer(calls: list):
    def seal(candidate_id: str, fields: dict) -> str:
        calls.append((candidate_id, fields))
        return "SEALED"
    return seal


def test_every_personal_field_of_a_candidate_and_its_application_is_sealed_and_ids_stay_readable():
    calls: list = []
    out = seal_tree({"raw": INFO}, sealer(calls))
    text = orjson.dumps(out).decode()
    for personal in ("Zelda", "zelda@example.org", "7946", "79.255.55.222"):
        assert personal not in text
    candidate = out["raw"]["candidate"]
    assert candidate["id"] == "cand-1" and candidate["createdAt"] == "2026-01-01T00:00:00Z"
    assert candidate["_pii"] == {"candidate_id": "cand-1", "sealed": "SEALED"}
    assert out["raw"]["_pii"]["candidate_id"] == "cand-1"  # the application's submitter IP
    assert out["raw"]["currentInterviewStage"] == {"id": "stg-1"} and out["raw"]["job"]["title"] == "Engineer"
    assert {c for c, _ in calls} == {"cand-1"}
    assert calls[0][1]["name"] == "Zelda Quibble"


def test_a_payload_without_candidate_objects_is_returned_as_it_is():
    payload = {"schedule": {"id": "s", "candidateId": "cand-1", "interviewEvents": [{"id": "e"}]}}
    assert seal_tree(payload, sealer([])) is payload
    assert personal_candidates("InterviewScheduleUpdated", payload) == set()
    assert personal_candidates("AshbyWebhookReceived", {"data": {"application": INFO}}) == {"cand-1"}


def test_survey_answers_are_sealed_under_the_submitting_candidate():
    calls: list = []
    out = seal_tree({"data": {"surveySubmission": {"id": "sv", "candidateId": "cand-2",
                                                   "submittedValues": {"_systemfield_name": "Gob Bluth"}}}},
                    sealer(calls))
    assert "Gob" not in orjson.dumps(out).decode() and calls[0][0] == "cand-2"


def test_sealed_fields_open_with_the_key_and_become_erased_without_it():
    ring = Keyring(master_key(os.urandom(24).hex()))
    key = ring.unwrap("cand-1", ring.new_wrapped_key("cand-1"))
    sealed = seal_tree(INFO, lambda cid, fields: Keyring.seal(key, cid, fields))
    assert b"Zelda" not in orjson.dumps(sealed)
    opened = open_tree(sealed, lambda cid, text: Keyring.open(key, cid, text))
    assert opened["candidate"]["name"] == "Zelda Quibble" and opened["submitterClientIp"] == "79.255.55.222"
    gone = open_tree(sealed, lambda cid, text: None)
    assert gone["candidate"] == {"id": "cand-1", "createdAt": "2026-01-01T00:00:00Z", "erased": True}


def test_a_sealed_value_does_not_open_for_another_candidate_or_with_another_key():
    ring = Keyring(master_key("m" * 40))
    key = ring.unwrap("cand-1", ring.new_wrapped_key("cand-1"))
    text = Keyring.seal(key, "cand-1", {"name": "Zelda"})
    assert Keyring.open(key, "cand-1", text) == {"name": "Zelda"}
    assert Keyring.open(key, "cand-2", text) is None
    assert Keyring.open(os.urandom(32), "cand-1", text) is None


def test_candidate_tokens_in_text_and_blocks_become_the_name_or_the_placeholder():
    token = candidate_token("cand-1")
    blocks = [{"text": {"text": f"Archive *{token}*?"}}]
    assert fill_candidate_names(blocks, {"cand-1": "Zelda"}) == [{"text": {"text": "Archive *Zelda*?"}}]
    assert fill_candidate_names(f"for {token}", {"cand-1": ERASED}) == "for (erased)"
    assert fill_candidate_names(f"for {token}", {}) == "for a candidate"
    assert candidate_token(None) is None and candidate_token("bad id}}") is None


def test_personal_fields_without_a_candidate_id_are_dropped_not_kept():
    calls: list = []
    out = seal_tree({"application": {"id": "app-9", "candidate": {"name": "Nobody Known"}}}, sealer(calls))
    assert "Nobody" not in orjson.dumps(out).decode() and calls == []
    assert out["application"]["candidate"]["_pii"] == {"candidate_id": None, "sealed": "dropped"}
