"""The guard against guessing tokens: failed sign-ins per address, in the time the guard is given."""

from api.console.web import FailedSignIns


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_five_failures_in_a_minute_make_that_address_wait_out_the_minute():
    clock = Clock()
    guard = FailedSignIns(monotonic=clock)
    for _ in range(5):
        assert guard.wait_seconds("198.51.100.1") == 0
        guard.failed("198.51.100.1")
    assert 0 < guard.wait_seconds("198.51.100.1") <= 60
    assert guard.wait_seconds("198.51.100.2") == 0  # each address counts its own
    clock.now += 61
    assert guard.wait_seconds("198.51.100.1") == 0


def test_asking_whether_an_address_may_try_costs_it_no_attempt():
    guard = FailedSignIns(monotonic=Clock())
    for _ in range(50):
        assert guard.wait_seconds("198.51.100.3") == 0


def test_twenty_failures_in_an_hour_hold_an_address_even_when_spread_out():
    clock = Clock()
    guard = FailedSignIns(monotonic=clock)
    for _ in range(20):
        assert guard.wait_seconds("198.51.100.4") == 0
        guard.failed("198.51.100.4")
        clock.now += 15  # four a minute: under the minute's limit
    assert guard.wait_seconds("198.51.100.4") > 60
