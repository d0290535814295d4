"""Business hours: when a nudge may reach a person, and how a duration elapses when only business
days count. Pure: instants are aware datetimes (UTC in, UTC out); the calendar's zone turns them
into local days and hours.

- A duration elapses on business days only, all of each such day (in real time: a DST day counts
  23 or 25 hours); days outside `BUSINESS_DAYS` are skipped whole.
- A moment outside business hours (or on another day) waits for the next business-hours start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DAY_SECONDS = 86400


class CalendarInvalid(ValueError):
    """A business-hours setting that cannot be read; the message says which and why."""


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    zone: ZoneInfo
    opens_s: int
    """Local seconds after midnight when business hours start."""
    closes_s: int
    """Local seconds after midnight when they end (exclusive; 86400 is midnight at the day's end)."""
    days: frozenset[int]
    """Business weekdays, Monday 0 … Sunday 6."""

    @classmethod
    def parse(cls, hours: str = "09:00-18:00", zone: str = "UTC", days: str = "Mon-Fri") -> BusinessCalendar:
        return cls(parse_zone(zone), *parse_hours(hours), parse_days(days))

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.zone)
        return local.weekday() in self.days and self.opens_s <= _seconds(local) < self.closes_s

    def next_open(self, at: datetime) -> datetime:
        """`at` itself when within business hours, else the next business-hours start."""
        if self.is_open(at):
            return at.astimezone(UTC)
        local = at.astimezone(self.zone)
        day = local.date()
        if not (local.weekday() in self.days and _seconds(local) < self.opens_s):
            day = self._next_business_day(day)
        opening = self._instant(day, self.opens_s)
        return opening if opening > at else self._instant(self._next_business_day(day), self.opens_s)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """`start` + `duration`, counting only the time that falls on business days."""
        at, left = start.astimezone(UTC), duration
        while True:
            day = at.astimezone(self.zone).date()
            if day.weekday() not in self.days:
                at = max(at, self._instant(self._next_business_day(day), 0))
                continue
            day_end = self._instant(day + timedelta(days=1), 0)
            room = day_end - at
            if left <= room:
                return at + left
            left -= room
            at = day_end

    def _next_business_day(self, day: date) -> date:
        for step in range(1, 8):
            following = day + timedelta(days=step)
            if following.weekday() in self.days:
                return following
        raise AssertionError("a calendar has at least one business day")  # parse_days guarantees it

    def _instant(self, day: date, seconds: int) -> datetime:
        """The UTC instant of a local wall time (a time in a DST gap maps past the gap)."""
        if seconds >= _DAY_SECONDS:
            return self._instant(day + timedelta(days=1), seconds - _DAY_SECONDS)
        wall = datetime.combine(day, time(seconds // 3600, seconds // 60 % 60, seconds % 60), tzinfo=self.zone)
        return wall.astimezone(UTC)


def _seconds(local: datetime) -> float:
    return local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6


def parse_zone(text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarInvalid(f"BUSINESS_TZ {text[:60]!r} is not an IANA time zone (e.g. Europe/Berlin, UTC)") from exc


def parse_hours(text: str) -> tuple[int, int]:
    """'09:00-18:00' → (opens, closes) in local seconds; '00:00-24:00' is the whole day."""
    match = _HOURS.match(text)
    if not match:
        raise CalendarInvalid(f"BUSINESS_HOURS {text[:60]!r} must look like 09:00-18:00 (HH:MM-HH:MM, 24-hour)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise CalendarInvalid(f"BUSINESS_HOURS {text[:60]!r} has a time that does not exist")
    opens, closes = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
    if closes <= opens:
        raise CalendarInvalid(f"BUSINESS_HOURS {text[:60]!r} must end after it starts (same day)")
    return opens, closes


def parse_days(text: str) -> frozenset[int]:
    """'Mon-Fri', 'Sun-Thu' (a range may wrap), 'Mon,Wed,Fri', 'Mon-Sun' (every day)."""
    days: set[int] = set()
    for part in (p.strip().lower() for p in text.split(",")):
        first, _, last = part.partition("-")
        try:
            a = DAY_NAMES.index(first.strip()[:3]) if len(first.strip()) >= 3 else -1
            b = DAY_NAMES.index(last.strip()[:3]) if last else a
        except ValueError:
            a = b = -1
        if a < 0 or b < 0:
            raise CalendarInvalid(f"BUSINESS_DAYS {text[:60]!r}: {part[:20]!r} is not a day or a range of days "
                                  "(use Mon, Tue, Wed, Thu, Fri, Sat, Sun, e.g. Mon-Fri)")
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return frozenset(days)
