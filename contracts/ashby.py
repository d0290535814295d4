"""Ashby wire models: what Ashby sends us (webhooks) and returns (API results).

`extra="ignore"` everywhere: Ashby's payloads grow, and what we do not model is still kept raw in
the event payload, so later code can read it.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEDULE_STATUSES = (
    "NeedsScheduling",
    "WaitingOnCandidateBooking",
    "WaitingOnCandidateAvailability",
    "CandidateAvailabilitySubmitted",
    "Scheduled",
    "WaitingOnFeedback",
    "Complete",
    "Cancelled",
    "OnHold",
    "Unknown",
)
FEEDBACK_DUE_STATUSES = frozenset({"WaitingOnFeedback", "Complete"})


class AshbyModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Interviewer(AshbyModel):
    id: str
    email: str | None = None
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    is_feedback_required: bool = Field(default=True, alias="isFeedbackRequired")
    training_role: str | None = Field(default=None, alias="trainingRole")


class InterviewEvent(AshbyModel):
    id: str
    interview_id: str | None = Field(default=None, alias="interviewId")
    interview_schedule_id: str | None = Field(default=None, alias="interviewScheduleId")
    interviewer_user_ids: list[str] = Field(default_factory=list, alias="interviewerUserIds")
    interviewers: list[Interviewer] = Field(default_factory=list)
    start_time: str | None = Field(default=None, alias="startTime")
    end_time: str | None = Field(default=None, alias="endTime")
    created_at: str | None = Field(default=None, alias="createdAt")
    updated_at: str | None = Field(default=None, alias="updatedAt")
    feedback_link: str | None = Field(default=None, alias="feedbackLink")
    has_submitted_feedback: bool | None = Field(default=None, alias="hasSubmittedFeedback")

    def required_interviewer_ids(self) -> list[str]:
        """Interviewers whose feedback is required; the deprecated id list when no detail is sent."""
        if self.interviewers:
            return [i.id for i in self.interviewers if i.is_feedback_required]
        return list(self.interviewer_user_ids)


class InterviewSchedule(AshbyModel):
    id: str = Field(min_length=1)
    status: str = Field(min_length=1)
    application_id: str = Field(min_length=1, alias="applicationId")
    interview_stage_id: str = Field(min_length=1, alias="interviewStageId")
    candidate_id: str | None = Field(default=None, alias="candidateId")
    created_at: str | None = Field(default=None, alias="createdAt")
    updated_at: str | None = Field(default=None, alias="updatedAt")
    interview_events: list[InterviewEvent] = Field(default_factory=list, alias="interviewEvents")


class InterviewScheduleData(AshbyModel):
    interview_schedule: InterviewSchedule = Field(alias="interviewSchedule")


class WebhookBody(AshbyModel):
    """Every webhook: `{"action": ..., "data": {...}}`, sometimes with a `webhookActionId`."""

    action: str = Field(min_length=1)
    data: dict[str, Any]
    webhook_action_id: str | None = Field(default=None, alias="webhookActionId")
