"""Golden envelopes of every event type and version go through upcasting and validation."""

from pathlib import Path

import pytest

from contracts.catalogue import render_markdown
from contracts.envelope import parse_envelope
from contracts.events import EVENT_SPECS

GOLDEN = Path(__file__).parent / "golden"
FILES = sorted(GOLDEN.glob("*.json"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_golden_event_upcasts_to_a_valid_current_payload(path):
    env = parse_envelope(path.read_bytes())
    spec = EVENT_SPECS[env.event_type]
    assert env.schema_version == spec.version
    spec.model.model_validate(env.payload)


def test_every_event_type_and_version_has_a_golden_file():
    expected = {f"{t}.v{v}" for t, spec in EVENT_SPECS.items() for v in range(1, spec.version + 1)}
    assert expected <= {p.stem for p in FILES}


def test_a_v1_feedback_event_reads_as_its_v2_form():
    v1 = parse_envelope((GOLDEN / "FeedbackSubmitted.v1.json").read_bytes())
    v2 = parse_envelope((GOLDEN / "FeedbackSubmitted.v2.json").read_bytes())
    assert v1.payload == v2.payload


def test_docs_events_md_is_generated_from_the_contracts():
    page = (Path(__file__).parents[2] / "docs" / "events.md").read_text()
    assert page.strip() == render_markdown().strip(), "run: python -m contracts.catalogue > docs/events.md"
