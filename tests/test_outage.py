"""When failing polls become an outage worth saying: a pure rule, tested in a table."""

from __future__ import annotations

import pytest

from fastwait.polling._outage import Outage


@pytest.mark.parametrize(
    ("events", "said"),
    [
        # (time, poll got through?) -> at each failure, the outage's length (None: not yet)
        ([(0.0, False), (0.5, False), (1.2, False)], [None, None, 1.2]),
        ([(0.0, False), (0.9, True), (1.5, False), (2.0, False)], [None, None, None]),
        ([(0.0, False), (3.0, False)], [None, 3.0]),
        ([(0.0, True), (5.0, False)], [None]),
    ],
)
def test_only_failures_lasting_the_patience_with_no_success_between_are_an_outage(
    events: list[tuple[float, bool]], said: list[float | None]
) -> None:
    outage = Outage(patience=1.0)
    reported = []
    for now, ok in events:
        if ok:
            outage.succeeded()
        else:
            reported.append(outage.failed(now))
    assert reported == said


def test_a_success_ends_an_outage_once() -> None:
    outage = Outage(patience=1.0)
    outage.failed(0.0)
    assert outage.succeeded()
    assert not outage.succeeded()
