"""Settings from the environment, built once in `runtime` and passed down as plain values."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    nats_url: str | None = None
    database_url: str | None = None
    data_dir: Path = Path("./.autoadvance")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    metrics_port: int = Field(default=0, ge=0, le=65535,
                              description="`autoadvance worker`: serve /metrics on this port (0: off; docs/deploy.md)")
    http_workers: int = Field(default=1, ge=0, description="`autoadvance http` processes; 0 = one per CPU")
    dev_worker_process: bool = Field(
        default=True, description="`autoadvance dev` runs its worker roles in a child process (false: one process)")

    ashby_api_url: str = "https://api.ashbyhq.com"
    ashby_api_key: SecretStr | None = None
    ashby_webhook_secret: SecretStr | None = None
    ashby_max_requests_per_s: float = Field(default=5.0, gt=0, description="this process's Ashby request budget")
    ashby_burst: int = Field(default=10, ge=1)
    ashby_throttle_alert_after_s: float = 300.0
    ashby_timeout_s: float = Field(default=15.0, gt=0, description="one Ashby call attempt, in total")
    ashby_max_retries: int = Field(default=5, ge=0, description="retries of a read (and of a write Ashby refused)")
    ashby_backoff_max_s: float = 30.0
    ashby_retry_after_max_s: float = 120.0
    replica_id: str | None = Field(default=None, description="names this process in leases and events")
    executor_lease_ttl_s: float = Field(default=30.0, gt=0,
                                        description="a command lease's life; renewed every third of it while its holder works")
    slack_api_url: str = "https://slack.com/api/"
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    admin_api_token: SecretStr | None = None
    viewer_api_token: SecretStr | None = None
    console_session_ttl_s: float = Field(default=8 * 3600.0, gt=0)
    admin_slack_channel: str = "#auto-advance-admin"
    slack_fallback_channel: str = "#recruiting"

    log_format: str = Field(default="auto", description="json | console | auto (console on a terminal)")
    log_level: str = "INFO"

    webhook_max_body_bytes: int = 1_048_576
    webhook_rate_limit_per_s: float = 200.0
    webhook_rate_burst: int = 2000

    consumer_batch_size: int = 256
    consumer_max_batch_size: int = Field(default=4096, ge=1,
                                         description="a consumer's batch grows up to this with its backlog")
    consumer_linger_s: float = Field(default=0.02, ge=0, le=1,
                                     description="after a batch smaller than CONSUMER_BATCH_SIZE, wait this long before the next fetch")
    consumer_max_deliver: int = 10
    consumer_ack_wait_s: float = 30.0
    health_max_consumer_lag_s: float = Field(
        default=30.0, gt=0, description="/health is degraded when a consumer's oldest waiting message is older")
    dedupe_window_s: float = 900.0
    stream_replicas: int = 1
    nats_sync_interval: str = Field(
        default="2m", pattern=r"^(always|\d+(ms|s|m|h))$",
        description="embedded nats-server's JetStream fsync interval: `always` or a duration (docs/deploy.md)")
    db_pool_size: int = 10

    feedback_poll_interval_s: float = 2.0
    feedback_due_poll_interval_s: float = 15.0
    feedback_due_poll_max_interval_s: float = 300.0
    metadata_poll_interval_s: float = 900.0
    feedback_poll_timeout_s: float = 1800.0
    poller_lease_s: float = Field(default=15.0, gt=0)
    sandbox_ashby_rate_limit_per_s: float = Field(default=0.0, ge=0, description="0 = the sandbox never says 429")
    dry_run: bool = False
    pause_check_s: float = Field(default=1.0, gt=0, le=60,
                                 description="how often a held command re-reads the pause switch (docs/console.md)")
    outbox_relay: bool = True
    evaluator_timer_interval_s: float = 0.25
    archive_delay: float = Field(
        default=300.0, ge=0, le=7 * 86400,
        description="the undo window before an archive is sent to Ashby, in seconds or as 30s / 5m / 1h; 0 = at once")

    @field_validator("archive_delay", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        """`ARCHIVE_DELAY=5m` as well as `300`: a number and a unit (h, m, s), or plain seconds."""
        if isinstance(value, str):
            text = value.strip().replace(" ", "")
            parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", text)
            if text and parts and any(parts.groups()):
                hours, minutes, seconds = parts.groups()
                return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)
        return value
    impact_min_group_size: int = Field(
        default=5, ge=1, description="impact reports: a category with fewer decisions is shown but not judged")
    explanation_interviewer_names: bool = Field(
        default=False, description="candidate explanations name the interviewers beside their answers")

    # privacy: erasure and retention (issue 20, part 4; docs/decisions/0008-erasure.md)
    pii_master_key: SecretStr | None = None
    """Wraps every candidate's data key; a random string of 32+ characters, the same in every process.
    Unset: one is made in DATA_DIR/pii_master_key (the embedded set-up)."""
    pii_retention_days: float | None = Field(
        default=None, ge=0, description="erase a candidate's personal data N days after it was last seen; 0/unset = keep")
    pii_retention_interval_s: float = Field(default=3600.0, gt=0, description="how often the retention job runs")

    @field_validator("pii_retention_days", mode="before")
    @classmethod
    def _empty_is_keep(cls, value: object) -> object:
        return None if value == "" else value

    # feedback nudges (issue 21): when nudges may reach people, and which days count (docs/rules.md)
    business_hours: str = Field(default="09:00-18:00", description="local HH:MM-HH:MM; 00:00-24:00 = all day")
    business_tz: str = Field(default="UTC", description="IANA time zone of BUSINESS_HOURS, e.g. Europe/Berlin")
    business_days: str = Field(default="Mon-Fri", description="days that count, e.g. Mon-Fri, Sun-Thu, Mon-Sun")

    @field_validator("business_hours", "business_tz", "business_days")
    @classmethod
    def _calendar_readable(cls, v: str, info) -> str:
        from evaluator.business_hours import parse_days, parse_hours, parse_zone

        {"business_hours": parse_hours, "business_tz": parse_zone, "business_days": parse_days}[info.field_name](v)
        return v

    def calendar(self):
        """The business calendar of feedback nudges."""
        from evaluator.business_hours import BusinessCalendar

        return BusinessCalendar.parse(self.business_hours, self.business_tz, self.business_days)

    def secret(self, name: str) -> str | None:
        value = getattr(self, name)
        return value.get_secret_value() if value is not None else None
