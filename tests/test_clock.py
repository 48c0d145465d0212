"""Tests for harness.clock: simulated time moves only when told, and timers fire in order."""
from __future__ import annotations

import datetime

from freezegun import freeze_time

from harness.mac.clock import DEFAULT_EPOCH_S, Clock


def recorder():
    fired: list[str] = []

    def note(name: str):
        return lambda: fired.append(name)
    return fired, note


def run_all(clock: Clock) -> None:
    while clock.advance() is not None:
        pass


def test_a_new_clock_starts_at_zero_on_the_default_epoch():
    clock = Clock()
    assert clock.now_s == 0
    assert clock.wall_s == DEFAULT_EPOCH_S


def test_timers_fire_in_time_order_whatever_order_they_were_set_in():
    clock = Clock()
    fired, note = recorder()
    clock.call_at(30, "c", note("c"))
    clock.call_at(10, "a", note("a"))
    clock.call_at(20, "b", note("b"))
    run_all(clock)
    assert fired == ["a", "b", "c"]
    assert clock.now_s == 30


def test_timers_due_at_the_same_moment_fire_lowest_priority_number_first():
    clock = Clock()
    fired, note = recorder()
    clock.call_at(10, "late", note("late"), priority=1)
    clock.call_at(10, "normal", note("normal"))
    clock.call_at(10, "early", note("early"), priority=-1)
    run_all(clock)
    assert fired == ["early", "normal", "late"]


def test_timers_due_at_the_same_moment_with_the_same_priority_fire_in_the_order_they_were_set():
    clock = Clock()
    fired, note = recorder()
    for name in "qwerty":
        clock.call_at(5, name, note(name))
    run_all(clock)
    assert fired == list("qwerty")


def test_advance_jumps_to_the_next_timer_and_fires_only_that_one():
    clock = Clock()
    fired, note = recorder()
    clock.call_at(100, "first", note("first"))
    clock.call_at(200, "second", note("second"))
    timer = clock.advance()
    assert timer.label == "first"
    assert fired == ["first"]
    assert clock.now_s == 100
    assert clock.pending() == 1


def test_advance_with_nothing_pending_leaves_time_where_it_is():
    clock = Clock()
    assert clock.advance() is None
    assert clock.now_s == 0


def test_a_cancelled_timer_never_fires_and_is_not_next_due():
    clock = Clock()
    fired, note = recorder()
    doomed = clock.call_at(10, "doomed", note("doomed"))
    clock.call_at(20, "kept", note("kept"))
    doomed.cancel()
    assert clock.next_due().label == "kept"
    assert clock.pending() == 1
    run_all(clock)
    assert fired == ["kept"]


def test_cancelling_the_boot_scope_cancels_boot_timers_and_keeps_run_timers():
    clock = Clock()
    fired, note = recorder()
    clock.call_later(10, "sleep in this boot", note("boot"))
    clock.call_at(20, "scheduled reboot", note("run"))
    clock.call_at(30, "explicit boot timer", note("boot too"), scope="boot")
    clock.cancel_scope("boot")
    run_all(clock)
    assert fired == ["run"]


def test_call_later_is_boot_scoped_and_call_at_is_run_scoped_by_default():
    clock = Clock()
    assert clock.call_later(1, "x", lambda: None).scope == "boot"
    assert clock.call_at(1, "y", lambda: None).scope == "run"


def test_skip_moves_time_forward_without_firing_what_it_passes():
    clock = Clock()
    fired, note = recorder()
    clock.call_at(10, "passed over", note("passed over"))
    clock.skip(35)
    assert clock.now_s == 35
    assert fired == []
    assert clock.pending() == 1


def test_a_timer_passed_over_by_skip_fires_late_and_time_never_runs_backwards():
    # E.g. a scenario's scheduled event that falls inside a reboot's boot duration.
    clock = Clock()
    fired, note = recorder()
    clock.call_at(10, "passed over", note("passed over"))
    clock.skip(35)
    clock.advance()
    assert fired == ["passed over"]
    assert clock.now_s == 35


def test_skip_never_moves_time_backwards():
    clock = Clock()
    clock.skip(10)
    clock.skip(-5)
    assert clock.now_s == 10


def test_a_timer_set_in_the_past_fires_at_now():
    clock = Clock()
    clock.skip(100)
    fired, note = recorder()
    timer = clock.call_at(40, "overdue", note("overdue"))
    assert timer.at_s == 100
    clock.advance()
    assert fired == ["overdue"]
    assert clock.now_s == 100


def test_call_later_counts_from_now():
    clock = Clock()
    clock.skip(50)
    assert clock.call_later(7, "x", lambda: None).at_s == 57
    assert clock.call_later(-3, "y", lambda: None).at_s == 50


def test_a_timer_may_schedule_another_that_fires_in_turn():
    clock = Clock()
    fired: list[float] = []

    def tick() -> None:
        fired.append(clock.now_s)
        if len(fired) < 3:
            clock.call_later(60, "tick", tick)
    clock.call_later(60, "tick", tick)
    run_all(clock)
    assert fired == [60, 120, 180]


def _a_simulated_day() -> tuple[float, float, int]:
    clock = Clock()
    fired: list[float] = []
    clock.call_later(86_400, "a day later", lambda: fired.append(clock.wall_s))
    run_all(clock)
    return clock.now_s, clock.wall_s, len(fired)


def test_a_simulated_day_passes_without_reading_or_waiting_for_the_real_clock():
    with freeze_time("1999-12-31 23:59:59") as frozen:
        at_y2k = _a_simulated_day()
        # Had the clock slept or read real time, a frozen world would have hung or leaked into it.
        assert datetime.datetime.now() == datetime.datetime(1999, 12, 31, 23, 59, 59)
        assert frozen() == datetime.datetime(1999, 12, 31, 23, 59, 59)
    with freeze_time("2031-06-01 12:00:00"):
        later = _a_simulated_day()
    assert at_y2k == later == (86_400, DEFAULT_EPOCH_S + 86_400, 1)
