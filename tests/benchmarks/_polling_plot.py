"""The polling trade as a picture: requests per job against p95 lag, one panel per job model.

Each strategy is a point; the fixed-interval pollers of every interval, computed from the
model's durations, draw the curve a strategy has to beat (below it: less lag for the same
requests, or fewer requests for the same lag). Needs matplotlib (the ``bench`` extra).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ._harness import ScenarioReport

__all__ = ["draw"]

_MARKERS = {"fastwait": "o", "fastwait, warm": "D", "fixed 1 s": "s", "backoff.expo": "^"}
_COLOURS = {
    "fastwait": "tab:blue",
    "fastwait, warm": "tab:green",
    "fixed 1 s": "tab:gray",
    "backoff.expo": "tab:red",
}


def _fixed_curve(durations: Sequence[float]) -> tuple[list[float], list[float]]:
    from .bench_polling import fixed_poller

    requests, lags = [], []
    interval = 0.25
    while interval <= 12.0:
        spent, p95 = fixed_poller(durations, interval)
        requests.append(spent)
        lags.append(p95)
        interval *= 1.1
    return requests, lags


def draw(reports: Sequence[ScenarioReport], path: str) -> None:
    """Write the PNG; ``reports`` are the polling models' (their figures carry the durations)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("drawing the plot needs matplotlib: pip install -e '.[bench]'") from None
    columns = min(3, len(reports))
    rows = math.ceil(len(reports) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 4.2 * rows), squeeze=False)
    for ax, report in zip(axes.flat, reports, strict=False):
        figures = report.figures
        requests, lags = _fixed_curve(figures["durations"])
        ax.plot(requests, lags, color="black", linewidth=1, label="fixed interval, any beat")
        top = right = 0.0
        for strategy in figures["strategies"]:
            spent, p95 = strategy["requests_per_job"], strategy["lag_p95"]
            if spent is None or p95 is None:
                continue
            name = strategy["strategy"]
            ax.scatter(
                [spent],
                [p95],
                marker=_MARKERS.get(name, "x"),
                color=_COLOURS.get(name, "black"),
                s=60,
                zorder=3,
                label=name,
            )
            top, right = max(top, p95), max(right, spent)
        ax.set_xlim(0, right * 1.25)
        ax.set_ylim(0, min(max(top * 1.3, 3.0), 16.0))
        title = figures["title"]
        if len(title) > 60:
            title = title[:57] + "..."
        held = " (held out)" if figures.get("held_out") else ""
        ax.set_title(f"{report.name.removeprefix('polling-')}{held}\n{title}", fontsize=8)
        ax.set_xlabel("requests per job")
        ax.set_ylabel("p95 detection lag (s)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(reports) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    figure.suptitle("fastwait vs fixed-interval polling: lower-left is better", fontsize=10)
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
