"""/health's `ashby`: this process's budget, else what the processes calling Ashby reported."""

from runtime.ashby_stats import for_health, process_key


def test_a_process_calling_ashby_shows_its_own_counters():
    assert for_health({"throttles": 1}, {"other": {"throttles": 9}}) == {"throttles": 1}


def test_one_reporting_process_is_shown_as_it_would_show_itself():
    assert for_health(None, {"vm.12": {"throttles": 2}}) == {"throttles": 2}


def test_several_reporting_processes_are_shown_each_under_its_key():
    reports = {"a.1": {"throttles": 0}, "b.2": {"throttles": 3}}
    assert for_health(None, reports) == {"processes": reports}
    assert for_health(None, {}) is None


def test_the_process_key_is_a_valid_kv_key():
    assert all(c.isalnum() or c in "-_=." for c in process_key())
