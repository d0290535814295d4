"""Business-hours arithmetic: weekends skipped, nudges moved into business hours, time zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluator.business_hours import BusinessCalendar, CalendarInvalid, parse_days, parse_hours

BERLIN = ZoneInfo("Europe/Berlin")
WEEK = BusinessCalendar.parse("09:00-18:00", "Europe/Berlin", "Mon-Fri")


def berlin(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN).astimezone(UTC)  # type: ignore[misc]


def test_a_moment_within_business_hours_is_kept():
    assert WEEK.next_open(berlin(2026, 12, 8, 10, 30)) == berlin(2026, 12, 8, 10, 30)  # a Tuesday


def test_before_opening_waits_for_the_same_days_opening():
    assert WEEK.next_open(berlin(2026, 12, 8, 3, 0)) == berlin(2026, 12, 8, 9, 0)


def test_closing_time_itself_is_outside_and_waits_for_the_next_morning():
    assert WEEK.next_open(berlin(2026, 12, 8, 18, 0)) == berlin(2026, 12, 9, 9, 0)


def test_friday_evening_and_the_weekend_wait_for_monday_morning():
    monday = berlin(2026, 12, 14, 9, 0)
    assert WEEK.next_open(berlin(2026, 12, 11, 19, 0)) == monday
    assert WEEK.next_open(berlin(2026, 12, 12, 11, 0)) == monday
    assert WEEK.next_open(berlin(2026, 12, 13, 23, 59)) == monday


def test_a_duration_skips_the_weekend_whole():
    # Friday 16:00 + 24h: Saturday and Sunday do not count → Monday 16:00
    assert WEEK.add(berlin(2026, 12, 11, 16, 0), timedelta(hours=24)) == berlin(2026, 12, 14, 16, 0)


def test_a_duration_started_on_a_weekend_starts_counting_on_monday():
    assert WEEK.add(berlin(2026, 12, 12, 11, 0), timedelta(hours=10)) == berlin(2026, 12, 14, 10, 0)


def test_weekends_count_when_every_day_is_a_business_day():
    every_day = BusinessCalendar.parse("09:00-18:00", "Europe/Berlin", "Mon-Sun")
    start = berlin(2026, 12, 11, 16, 0)
    assert every_day.add(start, timedelta(hours=24)) == start + timedelta(hours=24)
    assert every_day.next_open(berlin(2026, 12, 12, 19, 0)) == berlin(2026, 12, 13, 9, 0)


def test_the_time_zone_decides_what_is_outside_hours():
    # 07:30 UTC is 08:30 in Berlin (closed) and 09:30 in Helsinki (open)
    at = datetime(2026, 12, 8, 7, 30, tzinfo=UTC)
    helsinki = BusinessCalendar.parse("09:00-18:00", "Europe/Helsinki", "Mon-Fri")
    assert not WEEK.is_open(at) and helsinki.is_open(at)
    assert WEEK.next_open(at) == datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    # Friday 20:00 in New York is Saturday 01:00 UTC: a weekend in UTC, still Friday evening there
    new_york = BusinessCalendar.parse("09:00-18:00", "America/New_York", "Mon-Fri")
    friday_evening = datetime(2026, 12, 12, 1, 0, tzinfo=UTC)
    assert new_york.next_open(friday_evening) == datetime(2026, 12, 14, 14, 0, tzinfo=UTC)


def test_a_duration_across_the_spring_dst_change_is_real_time_and_opening_is_local():
    every_day = BusinessCalendar.parse("09:00-18:00", "Europe/Berlin", "Mon-Sun")
    # Saturday 28 March 2026 17:00 CET + 24h: Sunday has 23 hours, so it ends 18:00 CEST
    end = every_day.add(berlin(2026, 3, 28, 17, 0), timedelta(hours=24))
    assert end == berlin(2026, 3, 29, 18, 0)
    # 18:00 is closing time: the nudge waits for Monday 09:00 CEST (07:00 UTC, not 08:00)
    assert every_day.next_open(end) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_a_weekday_duration_across_the_autumn_dst_change():
    # Friday 23 October 2026 17:00 CEST + 24h on weekdays: weekend skipped, Monday counted in CET
    end = WEEK.add(berlin(2026, 10, 23, 17, 0), timedelta(hours=24))
    assert end == berlin(2026, 10, 26, 17, 0)
    assert end - berlin(2026, 10, 23, 17, 0) == timedelta(days=3, hours=1)  # the 25-hour Sunday is skipped


def test_an_opening_hour_inside_a_dst_gap_maps_past_the_gap():
    night = BusinessCalendar.parse("02:30-05:00", "Europe/Berlin", "Mon-Sun")
    # 29 March 2026: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day
    opening = night.next_open(berlin(2026, 3, 29, 1, 0))
    assert opening > berlin(2026, 3, 29, 1, 0) and night.is_open(opening)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),
       st.integers(min_value=0, max_value=30 * 86400))
def test_next_open_is_open_and_never_earlier(at, seconds):
    opened = WEEK.next_open(at)
    assert opened >= at and WEEK.is_open(opened)
    assert opened - at < timedelta(days=4)
    ends = WEEK.add(at, timedelta(seconds=seconds))
    assert ends >= at + timedelta(seconds=seconds)


@pytest.mark.parametrize("text, days", [("Mon-Fri", {0, 1, 2, 3, 4}), ("Sun-Thu", {6, 0, 1, 2, 3}),
                                        ("mon,wed,Friday", {0, 2, 4}), ("Mon-Sun", set(range(7)))])
def test_business_days_read(text, days):
    assert parse_days(text) == days


@pytest.mark.parametrize("text", ["", "Mo-Fr", "Mon-Funday", "weekdays"])
def test_unreadable_business_days_say_why(text):
    with pytest.raises(CalendarInvalid, match="BUSINESS_DAYS"):
        parse_days(text)


@pytest.mark.parametrize("text", ["9-18", "18:00-09:00", "09:00-25:00", "09:60-18:00", "10:00-10:00"])
def test_unreadable_business_hours_say_why(text):
    with pytest.raises(CalendarInvalid, match="BUSINESS_HOURS"):
        parse_hours(text)


def test_the_whole_day_is_a_valid_business_day():
    assert parse_hours("00:00-24:00") == (0, 86400)
    always = BusinessCalendar.parse("00:00-24:00", "UTC", "Mon-Sun")
    at = datetime(2026, 12, 13, 3, 0, tzinfo=UTC)
    assert always.next_open(at) == at


def test_an_unknown_time_zone_says_why():
    with pytest.raises(CalendarInvalid, match="BUSINESS_TZ"):
        BusinessCalendar.parse(zone="Mars/Olympus")
