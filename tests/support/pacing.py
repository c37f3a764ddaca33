"""Measuring send times against a rate limit (the sender's tests and bench/outbox_rate.py)."""

from __future__ import annotations


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The most sends in any sliding window of `seconds` (both ends included); `times` ascending."""
    most, first = 0, 0
    for last, at in enumerate(times):
        while times[first] < at - seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


def per_minute(times: list[float]) -> float:
    """The rate over the run: sends after the first, per minute between the first and the last."""
    return (len(times) - 1) / (times[-1] - times[0]) * 60
