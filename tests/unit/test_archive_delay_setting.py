"""`ARCHIVE_DELAY`: the undo window of archives, a few minutes unless configured (issue 21)."""

import pytest
from pydantic import ValidationError

from runtime.settings import Settings


def test_the_undo_window_is_five_minutes_by_default():
    assert Settings().archive_delay == 300.0


@pytest.mark.parametrize(("raw", "seconds"), [("5m", 300.0), ("90s", 90.0), ("1h30m", 5400.0), ("0", 0.0),
                                              ("2.5", 2.5), (45, 45.0)])
def test_the_undo_window_reads_seconds_or_a_duration(raw, seconds):
    assert Settings(archive_delay=raw).archive_delay == seconds


@pytest.mark.parametrize("raw", ["5 minutes", "-1", "8d", "soon"])
def test_a_window_that_is_not_a_duration_is_refused(raw):
    with pytest.raises(ValidationError):
        Settings(archive_delay=raw)
