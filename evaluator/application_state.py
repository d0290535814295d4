"""One application's folded facts and `evolve`, the pure step that adds one event to them.

Every step is keyed and newest-wins by the source's own timestamps (schedule `updatedAt`,
feedback `submitted_at`, snapshot `fetched_at`), so re-applying an event changes nothing and the
state depends on the set of events, not the order they arrived in.

Why one module of ~460 lines: `AppState` and `evolve` are one fold, and every branch of it must keep
the same newest-wins rule; kept together so that rule can be checked branch by branch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import ValidationError

from contracts.ashby import InterviewSchedule
from contracts.envelope import EventRecord, parse_time
from evaluator.fast_init import quick_init
from evaluator.plan_catalog import Stamp, stamp
from evaluator.value_comparison import is_missing

FINAL_OUTCOMES = frozenset({"advance", "propose_rejection", "archive"})


@quick_init
@dataclass(frozen=True, slots=True)
class Snapshot:
    job_id: str | None
    plan_id: str | None
    stage_id: str | None
    status: str | None
    stamp: Stamp


class InterviewSlot(NamedTuple):
    """What `decide` reads of one interview event of a schedule."""

    id: str
    interview_id: str | None
    interviewers: tuple[str, ...] | None = None
    """Everyone on the event (required or not); None when not known (the required ones then)."""
    end_time: str | None = None
    """When the interview ended, as Ashby wrote it (feedback nudges count from it)."""
    feedback_link: str | None = None
    """Ashby's link to the event's feedback form."""


@quick_init
@dataclass(frozen=True, slots=True)
class ScheduleFact:
    """What `decide` reads of an interview schedule (see `schedule_fact`)."""

    id: str
    stage_id: str
    status: str
    stamp: Stamp
    created_at: datetime | None
    events: tuple[tuple[InterviewSlot, tuple[str, ...]], ...]
    """The interview events by id, each with its required interviewers (sorted, once each)."""
    interview_of_event: Mapping[str, str | None] = field(repr=False, compare=False)
    """Event id -> its interview id (the last event of an id wins, as a dict built in order would)."""

    @property
    def cancelled(self) -> bool:
        return self.status == "Cancelled"


@quick_init
@dataclass(frozen=True, slots=True)
class FeedbackFact:
    feedback_id: str
    interview_id: str | None
    interview_event_id: str | None
    submitted_by: str | None
    values: Mapping[str, Any]
    stamp: Stamp
    answered: frozenset[str] = field(init=False, repr=False, compare=False)
    """The fields with a value (`not is_missing`), found once when the fact is made."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "answered", frozenset(k for k, v in self.values.items() if not is_missing(v)))

    @property
    def submitted_at(self) -> datetime:
        return self.stamp[0]


@quick_init
@dataclass(frozen=True, slots=True)
class DecisionRecord:
    decision_id: str
    stage_id: str
    rule_set_version: int
    rule_id: str
    outcome: str
    mode: str
    dry_run: bool
    target_stage_id: str | None
    archive_reason_id: str | None
    archive_email_template_id: str | None
    command_id: str | None
    stamp: Stamp


@dataclass(frozen=True, slots=True)
class RecruiterChoice:
    proposal_command_id: str
    choice: str
    slack_user_id: str
    stamp: Stamp


@dataclass(frozen=True, slots=True)
class CommandStatus:
    command_id: str
    status: str
    reason: str | None
    stamp: Stamp


@dataclass(frozen=True, slots=True)
class ArchiveWindow:
    """An archive's undo window (issue 21): scheduled, then released to the executor, undone by
    someone, or cancelled (merged / moved). A settled window never goes back to scheduled."""

    command_id: str
    stage_id: str | None
    status: str
    due_at: datetime | None
    by: str | None
    stamp: Stamp


@dataclass(frozen=True, slots=True)
class MergeFact:
    """The application was merged away in Ashby: `surviving_application_id` continues it (None: gone)."""

    surviving_application_id: str | None
    reason: str
    stamp: Stamp


@quick_init
@dataclass(frozen=True, slots=True)
class Position:
    job_id: str | None
    plan_id: str | None
    stage_id: str
    status: str | None
    entered_at: datetime | None


@quick_init
@dataclass(frozen=True, slots=True)
class AppState:
    application_id: str
    snapshot: Snapshot | None = None
    stage_seen: Mapping[str, datetime] = field(default_factory=dict)
    schedules: Mapping[str, ScheduleFact] = field(default_factory=dict)
    feedback: Mapping[str, FeedbackFact] = field(default_factory=dict)
    decisions: Mapping[str, DecisionRecord] = field(default_factory=dict)
    choices: Mapping[str, RecruiterChoice] = field(default_factory=dict)
    commands: Mapping[str, CommandStatus] = field(default_factory=dict)
    windows: Mapping[str, ArchiveWindow] = field(default_factory=dict)
    merged: MergeFact | None = None

    def window_in(self, stage_id: str, status: str | None = None) -> ArchiveWindow | None:
        """The newest archive window of the stage (with that status, when given)."""
        found = [w for w in self.windows.values() if w.stage_id == stage_id and (status is None or w.status == status)]
        return max(found, key=lambda w: w.stamp, default=None)

    def position(self) -> Position | None:
        """Where the application stands: the newest snapshot, moved on by any advance or archive
        we carried out after it was taken. None until a snapshot told us its job and plan."""
        snap = self.snapshot
        if snap is None or snap.stage_id is None:
            return None
        if not self.commands:  # nothing carried out (the common case): where the snapshot says
            return Position(snap.job_id, snap.plan_id, snap.stage_id, snap.status, self.stage_seen.get(snap.stage_id))
        stage, status, at = snap.stage_id, snap.status, snap.stamp
        moves = self._moves()
        for move_at, outcome, target in moves:
            if move_at > at:
                stage, status, at = (target or stage, status, move_at) if outcome == "advance" \
                    else (stage, "Archived", move_at)
        return Position(snap.job_id, snap.plan_id, stage, status, self._entered_at(stage, moves))

    def entered_at(self, stage_id: str) -> datetime | None:
        """The earliest moment we know the application was in the stage."""
        return self._entered_at(stage_id, self._moves())

    def _entered_at(self, stage_id: str, moves: list[tuple[Stamp, str, str | None]]) -> datetime | None:
        times = [t[0] for t, outcome, target in moves if outcome == "advance" and target == stage_id]
        if stage_id in self.stage_seen:
            times.append(self.stage_seen[stage_id])
        return min(times, default=None)

    def _moves(self) -> list[tuple[Stamp, str, str | None]]:
        if not self.commands:
            return []  # nothing carried out (the common case in a replay)
        moves = []
        for d in self.decisions.values():
            done = self.commands.get(d.command_id) if d.command_id else None
            if done is not None and done.status == "succeeded" and d.outcome in ("advance", "archive"):
                moves.append((done.stamp, d.outcome, d.target_stage_id))
        return sorted(moves)

    def decided(self, rule_set_version: int, stage_id: str, outcomes: frozenset[str] = FINAL_OUTCOMES) -> bool:
        for d in self.decisions.values():
            if d.rule_set_version == rule_set_version and d.stage_id == stage_id and d.outcome in outcomes:
                return True
        return False

    def updated(self, **changes: Any) -> AppState:
        """`dataclasses.replace(self, **changes)` without its cost (the fold's hot path): the
        fields are copied as they are; a name that is not a field is an error."""
        if not changes.keys() <= _STATE_FIELD_SET:
            raise TypeError(f"AppState has no field(s) {sorted(changes.keys() - _STATE_FIELD_SET)}")
        get = changes.get
        # every field, in order (a test holds this list to the class's fields)
        return AppState(get("application_id", self.application_id), get("snapshot", self.snapshot),
                        get("stage_seen", self.stage_seen), get("schedules", self.schedules),
                        get("feedback", self.feedback), get("decisions", self.decisions),
                        get("choices", self.choices), get("commands", self.commands),
                        get("windows", self.windows), get("merged", self.merged))


_STATE_FIELD_SET = frozenset(f.name for f in fields(AppState))


def evolve(state: AppState, event: EventRecord) -> AppState:
    """Add one event's facts. Events about other applications, unknown types and older copies of
    a fact change nothing."""
    step = _STEPS.get(event.event_type)
    return step(state, event) if step else state


def _about(state: AppState, application_id: Any) -> bool:
    return application_id is not None and str(application_id) == state.application_id


def _schedule_updated(state: AppState, event: EventRecord) -> AppState:
    read = schedule_fact(event.payload.get("schedule") or {}, event)
    if read is None:
        return state
    application_id, fact = read
    if not _about(state, application_id):
        return state
    known = state.schedules.get(fact.id)
    if known is not None and known.stamp >= fact.stamp:
        return state
    return state.updated(schedules={**state.schedules, fact.id: fact})


def schedule_fact(raw: Any, event: EventRecord) -> tuple[str, ScheduleFact] | None:
    """(application id, fact) of a schedule as Ashby sent it; None when the Ashby model rejects it.
    Read straight from the dict when every field has the exact type the model wants (what Ashby
    sends: the result is the model's), else through the model."""
    plain = _plain_schedule(raw) if type(raw) is dict else None
    if plain is None:
        try:
            model = InterviewSchedule.model_validate(raw)
        except ValidationError:
            return None
        plain = (model.id, model.status, model.application_id, model.interview_stage_id, model.created_at,
                 model.updated_at, [(e.id, e.interview_id, e.required_interviewer_ids(),
                                     [*e.interviewer_user_ids, *(i.id for i in e.interviewers)],
                                     e.end_time, e.feedback_link)
                                    for e in model.interview_events])
    sid, status, application_id, stage_id, created_at, updated_at, events = plain
    ordered = sorted(events, key=_first) if len(events) > 1 else events
    fact = ScheduleFact(sid, stage_id, status, stamp(event, parse_time(updated_at)), parse_time(created_at),
                        tuple((InterviewSlot(eid, interview, tuple(sorted(set(everyone))), ends, link),
                               tuple(sorted(set(required))))
                              for eid, interview, required, everyone, ends, link in ordered),
                        {eid: interview for eid, interview, *_ in events})
    return application_id, fact


def _first(item: tuple[Any, ...]) -> Any:
    return item[0]


_TEXT = (str, type(None))
# names the Ashby models also accept (populate_by_name): a payload using them goes through the model
_SCHEDULE_NAMES = frozenset({"application_id", "interview_stage_id", "candidate_id", "created_at", "updated_at",
                             "interview_events"})
_EVENT_NAMES = frozenset({"interview_id", "interview_schedule_id", "interviewer_user_ids", "start_time", "end_time",
                          "created_at", "updated_at", "feedback_link", "has_submitted_feedback"})
_PERSON_NAMES = frozenset({"first_name", "last_name", "is_feedback_required", "training_role"})


def _plain_schedule(raw: dict[str, Any]) -> tuple[Any, ...] | None:
    """`InterviewSchedule`'s fields, when each has exactly the type the model wants (so the model
    would take it as it is); None otherwise."""
    sid, status, app, stage = raw.get("id"), raw.get("status"), raw.get("applicationId"), raw.get("interviewStageId")
    if not (type(sid) is str and type(status) is str and type(app) is str and type(stage) is str
            and sid and status and app and stage and type(raw.get("candidateId")) in _TEXT):
        return None
    created, updated, listed = raw.get("createdAt"), raw.get("updatedAt"), raw.get("interviewEvents", [])
    if type(created) not in _TEXT or type(updated) not in _TEXT or type(listed) is not list \
            or not _SCHEDULE_NAMES.isdisjoint(raw):
        return None
    events = []
    for ev in listed:
        if type(ev) is not dict:
            return None
        eid, interview, ids, people = (ev.get("id"), ev.get("interviewId"), ev.get("interviewerUserIds", []),
                                       ev.get("interviewers", []))
        if not (type(eid) is str and type(interview) in _TEXT and type(ids) is list and type(people) is list
                and type(ev.get("interviewScheduleId")) in _TEXT and type(ev.get("startTime")) in _TEXT
                and type(ev.get("endTime")) in _TEXT and type(ev.get("createdAt")) in _TEXT
                and type(ev.get("updatedAt")) in _TEXT and type(ev.get("feedbackLink")) in _TEXT
                and type(ev.get("hasSubmittedFeedback")) in _BOOL_OR_NONE and _EVENT_NAMES.isdisjoint(ev)):
            return None
        for uid in ids:
            if type(uid) is not str:
                return None
        required = []
        everyone = list(ids)
        for person in people:
            if type(person) is not dict:
                return None
            uid, needed = person.get("id"), person.get("isFeedbackRequired", True)
            if not (type(uid) is str and type(needed) is bool and type(person.get("email")) in _TEXT
                    and type(person.get("firstName")) in _TEXT and type(person.get("lastName")) in _TEXT
                    and type(person.get("trainingRole")) in _TEXT and _PERSON_NAMES.isdisjoint(person)):
                return None
            everyone.append(uid)
            if needed:
                required.append(uid)
        events.append((eid, interview, required if people else ids, everyone, ev.get("endTime"),
                       ev.get("feedbackLink")))
    return sid, status, app, stage, created, updated, events


_BOOL_OR_NONE = (bool, type(None))


def _feedback_submitted(state: AppState, event: EventRecord) -> AppState:
    p = event.payload
    if not _about(state, p.get("application_id")) or not p.get("feedback_id"):
        return state
    values = p.get("submitted_values")
    fact = FeedbackFact(str(p["feedback_id"]), p.get("interview_id"), p.get("interview_event_id"),
                        p.get("submitted_by_user_id"), dict(values) if isinstance(values, dict) else {},
                        stamp(event, parse_time(p.get("submitted_at"))))
    known = state.feedback.get(fact.feedback_id)
    if known is not None and known.stamp >= fact.stamp:
        return state
    return state.updated(feedback={**state.feedback, fact.feedback_id: fact})


def _snapshotted(state: AppState, event: EventRecord) -> AppState:
    p = event.payload
    if not _about(state, p.get("application_id")):
        return state
    snap = Snapshot(p.get("job_id"), p.get("interview_plan_id"), p.get("current_stage_id"), p.get("status"),
                    stamp(event, parse_time(p.get("fetched_at"))))
    seen = dict(state.stage_seen)
    if snap.stage_id and (snap.stage_id not in seen or snap.stamp[0] < seen[snap.stage_id]):
        seen[snap.stage_id] = snap.stamp[0]
    newer = state.snapshot is None or snap.stamp > state.snapshot.stamp
    if not newer and seen == state.stage_seen:
        return state
    return state.updated(snapshot=snap if newer else state.snapshot, stage_seen=seen)


def _decision_made(state: AppState, event: EventRecord) -> AppState:
    p = event.payload
    if not _about(state, p.get("application_id")) or not p.get("decision_id"):
        return state
    explanation = p.get("explanation") or {}
    record = DecisionRecord(
        str(p["decision_id"]), str(p["stage_id"]), int(p["rule_set_version"]), str(p["rule_id"]), str(p["outcome"]),
        str(p.get("mode", "live")), bool(p.get("dry_run", False)), p.get("target_stage_id"),
        p.get("archive_reason_id"), explanation.get("archive_email_template_id"), p.get("command_id"),
        stamp(event, parse_time(p.get("decided_at"))))
    known = state.decisions.get(record.decision_id)
    if known is not None and known.stamp <= record.stamp:
        return state
    return state.updated(decisions={**state.decisions, record.decision_id: record})


def _recruiter_decided(state: AppState, event: EventRecord) -> AppState:
    """The first click on a proposal counts; later clicks (and repeats) change nothing."""
    p = event.payload
    if not _about(state, p.get("application_id")) or p.get("choice") not in ("archive", "keep"):
        return state
    choice = RecruiterChoice(str(p["proposal_command_id"]), p["choice"], str(p.get("slack_user_id")), stamp(event))
    known = state.choices.get(choice.proposal_command_id)
    if known is not None and known.stamp <= choice.stamp:
        return state
    return state.updated(choices={**state.choices, choice.proposal_command_id: choice})


def _command_outcome(state: AppState, event: EventRecord) -> AppState:
    p = event.payload
    if not p.get("command_id") or not _about(state, p.get("application_id") or event.key):
        return state
    status = {"CommandSucceeded": "succeeded", "CommandSkipped": "skipped", "CommandFailed": "failed"}
    outcome = CommandStatus(str(p["command_id"]), status[event.event_type], p.get("reason"), stamp(event))
    known = state.commands.get(outcome.command_id)
    if known is not None and known.stamp >= outcome.stamp:
        return state
    return state.updated(commands={**state.commands, outcome.command_id: outcome})


_WINDOW_STATUS = {"ArchiveScheduled": "scheduled", "ArchiveReleased": "released", "ArchiveUndone": "undone"}


def _archive_window(state: AppState, event: EventRecord) -> AppState:
    """Scheduled, then settled once (released, undone or cancelled): a settled window stays settled."""
    p = event.payload
    if not _about(state, p.get("application_id")):
        return state
    status = _WINDOW_STATUS.get(event.event_type)
    ids = [p.get("command_id")] if status else list(p.get("cancelled_command_ids") or [])
    windows = dict(state.windows)
    for command_id in ids:
        if not command_id:
            continue
        known = windows.get(str(command_id))
        if (known is not None and known.status != "scheduled") or (known is None and not status):
            continue  # settled already; or a cancelled proposal, not a window
        windows[str(command_id)] = ArchiveWindow(
            str(command_id), (known.stage_id if known else None) or p.get("stage_id"), status or "cancelled",
            parse_time(p.get("due_at")) or (known.due_at if known else None),
            p.get("undone_by") or p.get("decided_by") or p.get("reason"), stamp(event))
    if windows == state.windows:
        return state
    return state.updated(windows=windows)


def _application_merged(state: AppState, event: EventRecord) -> AppState:
    """Merged away into another application (or gone); an application kept under the merged
    candidate (surviving id == its own) goes on as before."""
    p = event.payload
    if not _about(state, p.get("application_id")) or p.get("surviving_application_id") == state.application_id:
        return state
    if state.merged is not None:
        return state
    return state.updated(merged=MergeFact(p.get("surviving_application_id"), str(p.get("reason") or "merged"),
                                          stamp(event)))


_STEPS: dict[str, Callable[[AppState, EventRecord], AppState]] = {
    "InterviewScheduleUpdated": _schedule_updated,
    "FeedbackSubmitted": _feedback_submitted,
    "ApplicationSnapshotted": _snapshotted,
    "DecisionMade": _decision_made,
    "RecruiterDecided": _recruiter_decided,
    "CommandSucceeded": _command_outcome,
    "CommandSkipped": _command_outcome,
    "CommandFailed": _command_outcome,
    # undo window and merges (issue 21)
    "ArchiveScheduled": _archive_window,
    "ArchiveReleased": _archive_window,
    "ArchiveUndone": _archive_window,
    "DecisionsCancelled": _archive_window,
    "ApplicationMerged": _application_merged,
}
APPLICATION_EVENT_TYPES = frozenset(_STEPS)
