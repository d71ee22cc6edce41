"""A lasting trouble is said once, then at most every interval, and once when it is over."""

from __future__ import annotations

import logging

import pytest
from conftest import ManualClock

from fastwait._notices import RateLimitedNotice

log = logging.getLogger("fastwait.test-notices")


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_trouble_is_said_once_then_every_interval_with_the_count_in_between(
    caplog: pytest.LogCaptureFixture, clock: ManualClock
) -> None:
    caplog.set_level(logging.DEBUG, logger=log.name)
    notice = RateLimitedNotice(log, interval=30, clock=clock)
    said = [notice.say("down: %s", n) for n in range(3)]
    clock.advance(31)
    said.append(notice.say("down: %s", 3))
    assert said == [True, False, False, True]
    assert warnings_in(caplog) == ["down: 0", "down: 3 (and 2 times more since it was last said)"]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG] == [
        "down: 1",
        "down: 2",
    ]


def test_the_end_of_a_trouble_is_said_only_if_the_trouble_was(
    caplog: pytest.LogCaptureFixture, clock: ManualClock
) -> None:
    caplog.set_level(logging.DEBUG, logger=log.name)
    notice = RateLimitedNotice(log, interval=30, clock=clock)
    notice.over("up again")
    notice.say("down")
    notice.over("up again")
    notice.over("up again")
    assert warnings_in(caplog) == ["down", "up again"]


def test_a_flapping_trouble_is_said_once_per_interval(
    caplog: pytest.LogCaptureFixture, clock: ManualClock
) -> None:
    caplog.set_level(logging.WARNING, logger=log.name)
    notice = RateLimitedNotice(log, interval=30, clock=clock)
    for _ in range(5):
        notice.say("down")
        clock.advance(1)
        notice.over("up again")
    clock.advance(30)
    notice.say("down")
    assert warnings_in(caplog) == [
        "down",
        "up again",
        "down (and 4 times more since it was last said)",
    ]
