"""`autoadvance replay --workers`: given, it must be a whole number of at least 1; left out, a
large log is split over the CPUs (at most MAX_AUTO_WORKERS) and a small one is not split."""

from __future__ import annotations

import pytest

from replay.history import AUTO_WORKERS_FROM, MAX_AUTO_WORKERS, auto_workers
from runtime import cli
from runtime.cli import main


@pytest.fixture(autouse=True)
def _logging_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """`main` configures structlog for the process (loggers cached on first use): not in a test run."""
    monkeypatch.setattr(cli, "configure_logging", lambda *args, **kwargs: None)


def test_small_logs_replay_in_one_process() -> None:
    assert auto_workers(0, cpus=8) == 1
    assert auto_workers(AUTO_WORKERS_FROM - 1, cpus=8) == 1


def test_large_logs_use_every_cpu_up_to_the_cap() -> None:
    assert auto_workers(AUTO_WORKERS_FROM, cpus=2) == 2
    assert auto_workers(10 * AUTO_WORKERS_FROM, cpus=1) == 1
    assert auto_workers(10 * AUTO_WORKERS_FROM, cpus=64) == MAX_AUTO_WORKERS


@pytest.mark.parametrize(("given", "message"), [("0", "must be at least 1, not 0"),
                                                ("-2", "must be at least 1, not -2"),
                                                ("two", "not a whole number: 'two'")])
def test_workers_must_be_a_positive_whole_number(given: str, message: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["replay", "--verify", "--workers", given])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_a_date_that_is_not_one_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--verify", "--since", "yesterday"]) == 2
    err = capsys.readouterr().err
    assert "--since: not a date: 'yesterday'" in err and "2026-01-31" in err


def test_since_after_until_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--verify", "--since", "2026-03-01", "--until", "2026-02-01"]) == 2
    assert "--since (2026-03-01T00:00:00+00:00) is after --until (2026-02-01T00:00:00+00:00)" in capsys.readouterr().err


@pytest.mark.parametrize(("extra", "named"), [(["--rules", "new.yaml"], "--rules"),
                                              (["--against", "old.yaml"], "--against"),
                                              (["--rules", "new.yaml", "--against", "old.yaml"],
                                               "--rules or --against")])
def test_verify_refuses_a_rule_set_to_try_instead_of_ignoring_it(extra: list[str], named: str,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--verify", *extra]) == 2
    assert f"--verify replays the rules that were live and takes no {named}" in capsys.readouterr().err
