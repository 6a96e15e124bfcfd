"""The targets of issue 5, the verdict table, and the plot."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The targets of issue 5.
FEED_200, FEED_GZIP, FEED_304 = 0.8, 0.7, 0.6
PERMALINK = 0.6
P99 = 2.0
INDEX_VS_FLOOR = 1.5
RESTART_SECONDS = 1.0
VISIBLE_SECONDS = 1.0
GROWTH = 0.9
WORKER_RSS_MIB = 150


# -- verdicts --------------------------------------------------------------------------------


@dataclass
class Verdict:
    target: str
    n: str
    values: list[float]
    goal: str
    passed: bool | None  # None: shown for information

    @property
    def measured(self) -> str:
        return spread(self.values)


def spread(values: Sequence[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    med = statistics.median(values)
    low, high = min(values), max(values)
    shown = [f"{x:.2f}" if x != float("inf") else "timeout" for x in (med, low, high)]
    return f"{shown[0]} [{shown[1]}-{shown[2]}]"


def verdicts(sizes: list[dict[str, Any]]) -> list[Verdict]:
    rows: list[Verdict] = []
    largest = max(s["n"] for s in sizes)
    for size in sizes:
        n = f"{size['n']:,}"
        for name, case in size["cases"].items():
            med = statistics.median(case["ratio"])
            rows.append(
                Verdict(
                    f"{name} req/s vs nginx",
                    n,
                    case["ratio"],
                    f">= {case['target']}",
                    med >= case["target"],
                )
            )
            p99_med = statistics.median(case["p99_ratio"])
            feed = not name.startswith("permalink")
            rows.append(
                Verdict(
                    f"{name} p99 vs nginx",
                    n,
                    case["p99_ratio"],
                    f"<= {P99}",
                    p99_med <= P99 if feed else None,
                )
            )
        idx = size["indexing"]
        rows.append(
            Verdict(
                "first index vs floor",
                n,
                idx["ratio"],
                f"<= {INDEX_VS_FLOOR}",
                statistics.median(idx["ratio"]) <= INDEX_VS_FLOOR,
            )
        )
        rows.append(
            Verdict(
                "restart, unchanged docs, s",
                n,
                idx["restart_s"],
                f"< {RESTART_SECONDS}",
                statistics.median(idx["restart_s"]) < RESTART_SECONDS
                if size["n"] == largest
                else None,
            )
        )
        visible = size["visible_s"]
        rows.append(
            Verdict(
                "new doc in every feed, s (every trial)",
                n,
                visible,
                f"< {VISIBLE_SECONDS}",
                max(visible) < VISIBLE_SECONDS,
            )
        )
        workers = size["memory"]["workers_mib"]
        rows.append(
            Verdict(
                "RSS per worker, MiB (every worker)",
                n,
                workers,
                f"< {WORKER_RSS_MIB}",
                max(workers) < WORKER_RSS_MIB if size["n"] == largest else None,
            )
        )
    rows += growth_verdicts(sizes)
    return rows


def growth_verdicts(sizes: list[dict[str, Any]]) -> list[Verdict]:
    if len(sizes) < 2:
        return []
    small, large = sizes[0], sizes[-1]
    label = f"{large['n']:,} vs {small['n']:,}"
    rows = []
    for name in large["cases"]:
        if not name.endswith("200"):
            continue
        # Both sides are normalised by nginx in their own run, so a quieter or busier machine
        # during one size does not show up as growth.
        before = statistics.median(small["cases"][name]["ratio"])
        after = [r / before for r in large["cases"][name]["ratio"]]
        rows.append(
            Verdict(
                f"{name} growth", label, after, f">= {GROWTH}", statistics.median(after) >= GROWTH
            )
        )
    return rows


RESULT = {True: "PASS", False: "FAIL", None: "info"}


def table(rows: list[Verdict]) -> str:
    """One line per target, one column per N: median [min-max] and PASS/FAIL/info."""
    columns = list(dict.fromkeys(r.n for r in rows))
    cells: dict[tuple[str, str], str] = {}
    goals: dict[str, str] = {}
    for r in rows:
        cells[r.target, r.n] = f"{r.measured} {RESULT[r.passed]}"
        goals[r.target] = r.goal
    head = ["target", "goal", *(f"N = {n}" for n in columns)]
    lines = [head] + [
        [target, goal, *(cells.get((target, n), "") for n in columns)]
        for target, goal in goals.items()
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    lines.insert(1, ["-" * w for w in widths])
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


# -- the plot --------------------------------------------------------------------------------


PLOTTED_CASES = ("atom 200", "atom gzip", "atom 304", "permalink 200")


def plot(sizes: list[dict[str, Any]], path: Path) -> None:
    """req/s of both servers, their ratio against the targets, and index times, against N."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    ns = [s["n"] for s in sizes]
    fig, (rps_ax, ratio_ax, index_ax) = plt.subplots(1, 3, figsize=(16, 5))
    for number, name in enumerate(PLOTTED_CASES):
        color = f"C{number}"
        for who, line in (("feedsvc", "-"), ("nginx", ":")):
            rps = [[r["rps"] for r in s["cases"][name][who]] for s in sizes]
            _errorbar(rps_ax, ns, rps, f"{who} {name}", color=color, linestyle=line)
        ratios = [s["cases"][name]["ratio"] for s in sizes]
        _errorbar(ratio_ax, ns, ratios, name, color=color, linestyle="-")
        ratio_ax.axhline(sizes[0]["cases"][name]["target"], color=color, linestyle="--", lw=0.8)
    rps_ax.set(yscale="log", ylabel="requests/s", title="req/s: feedsvc (solid), nginx (dotted)")
    rps_ax.legend(fontsize=7, ncol=2)
    ratio_ax.set(ylabel="feedsvc / nginx", title="req/s ratio (dashed: targets)")
    ratio_ax.legend(fontsize=8)
    for key, label in (
        ("first_index_s", "feedsvc index, first"),
        ("floor_s", "floor: read + split + dateutil"),
        ("restart_s", "feedsvc index, unchanged"),
    ):
        _errorbar(index_ax, ns, [s["indexing"][key] for s in sizes], label)
    index_ax.set(yscale="log", ylabel="seconds", title="Indexing time")
    index_ax.legend(fontsize=8)
    for ax in (rps_ax, ratio_ax, index_ax):
        ax.set(xscale="log", xlabel="documents (N)")
        ax.set_xticks(ns, [f"{n:,}" for n in ns])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle("feedsvc benchmark: median, bars min-max over rounds")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _errorbar(ax: Any, xs: list[int], samples: list[list[float]], label: str, **style: Any) -> None:
    med = [statistics.median(s) for s in samples]
    low = [m - min(s) for m, s in zip(med, samples, strict=True)]
    high = [max(s) - m for m, s in zip(med, samples, strict=True)]
    ax.errorbar(xs, med, yerr=[low, high], marker="o", capsize=3, label=label, ms=4, **style)
