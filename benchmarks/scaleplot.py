"""The plot of docs/performance.md's "Beyond one machine": three runs' results in one figure.

    python -m benchmarks.scaleplot RESULTS.json SITEGEN.json MILLION.json OUT.png

Left: the cache tier and the static build against nginx serving the same files, per case and N
(benchmarks.run). Middle: full static build times against N for feedsvc, Hugo and Pelican
(benchmarks.sitegen). Right: req/s at a million documents over the same at 1,000, per case
(benchmarks.million). Medians, bars from min to max.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from .report import PLOT_EXTRA


def _bar(ax: Any, x: list[float], samples: list[list[float]], **style: Any) -> None:
    med = [statistics.median(s) for s in samples]
    low = [m - min(s) for m, s in zip(med, samples, strict=True)]
    high = [max(s) - m for m, s in zip(med, samples, strict=True)]
    ax.errorbar(x, med, yerr=[low, high], capsize=3, ms=5, **style)


def plot(run: dict[str, Any], sitegen: list[dict[str, Any]], million: dict[str, Any],
         path: Path) -> None:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (serve_ax, build_ax, big_ax) = plt.subplots(1, 3, figsize=(17, 5))
    cases = list(run["sizes"][0]["cases"])
    for offset, size in enumerate(run["sizes"]):
        for who, marker in (("tier", "o"), ("static", "s")):
            xs = [i + offset * 0.15 + (0.05 if who == "static" else 0) for i in range(len(cases))]
            samples = [size["cases"][c].get(f"{who}_ratio", [float("nan")]) for c in cases]
            label = f"{'cache tier' if who == 'tier' else 'static build'}, N = {size['n']:,}"
            _bar(serve_ax, xs, samples, marker=marker, linestyle="none", label=label)
    serve_ax.axhline(0.95, color="grey", linestyle="--", lw=0.8)
    serve_ax.set_xticks(range(len(cases)), cases, rotation=30, fontsize=8)
    serve_ax.set(ylabel="req/s / nginx's (same files, same round)",
                 title="Serving: cache tier and static build vs nginx")  # fmt: skip
    serve_ax.legend(fontsize=7)
    ns = [r["n"] for r in sitegen]
    for who in ("feedsvc", "hugo", "pelican"):
        samples = [[s["seconds"] for s in r["full"][who]] for r in sitegen]
        _bar(build_ax, ns, samples, marker="o", label=who)
    build_ax.set(xscale="log", yscale="log", xlabel="documents (N)", ylabel="seconds",
                 title="Full static build, wall clock")  # fmt: skip
    build_ax.set_xticks(ns, [f"{n:,}" for n in ns])
    build_ax.legend(fontsize=8)
    build_ax.grid(True, which="both", alpha=0.3)
    names = list(million["serving"])
    _bar(big_ax, list(range(len(names))), [million["serving"][c]["ratio"] for c in names],
         marker="o", linestyle="none")  # fmt: skip
    big_ax.axhline(0.9, color="grey", linestyle="--", lw=0.8)
    big_ax.set_xticks(range(len(names)), names, rotation=30, fontsize=8)
    big_ax.set(ylabel=f"req/s at N = {million['n']:,} / at N = {million['baseline']:,}",
               title="A million documents: req/s against N = 1,000")  # fmt: skip
    fig.suptitle("feedsvc beyond one machine: median, bars min-max over rounds")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__.split("\n\n")[1])
    loaded = [json.loads(Path(arg).read_text()) for arg in sys.argv[1:4]]
    try:
        plot(loaded[0], loaded[1], loaded[2], Path(sys.argv[4]))
    except ModuleNotFoundError as missing:
        if missing.name != "matplotlib":
            raise
        raise SystemExit(f"the plot needs matplotlib: {PLOT_EXTRA}") from None
