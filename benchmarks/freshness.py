"""What the freshness check costs on the cached path: ``python -m benchmarks.freshness``.

Every cached response first asks the store's version (one ``stat()`` of the generation file and a
clock reading). This times the whole cached path, the app's WSGI middleware (SecurityHeaders,
NavigationPreviews, then FastPath answering from the response cache), with that check and with a
version that never
changes (no check at all), in the same process, alternating rounds, and prints the ratio: the
check's share of a cached request, before any HTTP server adds its own cost. Times are the
median of the rounds.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from werkzeug.test import EnvironBuilder

from feedsvc import create_app
from feedsvc.httpcache import FastPath, ResponseCache
from feedsvc.preview import NavigationPreviews
from feedsvc.security import SecurityHeaders

REPO = Path(__file__).resolve().parents[1]


def _start_response(status: str, headers: list, exc_info: object = None) -> None:
    pass


def _time(app: SecurityHeaders, environ: dict, requests: int) -> float:
    """Seconds per request over ``requests`` cached GETs."""
    started = time.perf_counter()
    for _ in range(requests):
        for _chunk in app(dict(environ), _start_response):
            pass
    return (time.perf_counter() - started) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="feedsvc-freshness-") as scratch:
        seeds = Path(scratch, "seeds")
        shutil.copytree(REPO / "seeds", seeds)
        app = create_app({"SEEDS_DIR": str(seeds), "INDEX_PATH": f"{scratch}/index.sqlite3",
                          "WATCH": "false"})  # fmt: skip
        services = app.extensions["feedsvc"]
        services.store.refresh()
        # The middleware as create_app stacks it, outermost first.
        checked: SecurityHeaders = app.wsgi_app  # type: ignore[assignment]
        fast_path: FastPath = checked.app.app  # type: ignore[attr-defined]
        environ = EnvironBuilder(path="/feed.atom", headers=[("Accept-Encoding", "gzip")])
        request = environ.get_environ()
        for _chunk in checked(dict(request), _start_response):  # render and cache it
            pass
        unchecked_cache = ResponseCache(lambda: 0)
        unchecked_cache.put("/feed.atom", fast_path.cache.get("/feed.atom"), 0)  # type: ignore[arg-type]
        unchecked = SecurityHeaders(
            NavigationPreviews(
                FastPath(fast_path.app, unchecked_cache, fast_path.keys, fast_path.slots),
                app.url_map,
            ),
            checked.policy,
        )
        with_check, without = [], []
        for _ in range(args.rounds):
            with_check.append(_time(checked, request, args.requests))
            without.append(_time(unchecked, request, args.requests))
    a, b = statistics.median(with_check), statistics.median(without)
    print(f"cached /feed.atom (gzip), {args.rounds} rounds of {args.requests:,} requests")
    print(f"  with the version check:  {a * 1e6:6.2f} µs per request")
    print(f"  without any check:       {b * 1e6:6.2f} µs per request")
    print(f"  ratio (with / without):  {a / b:6.3f}  (the check costs {(a - b) * 1e6:.2f} µs)")


if __name__ == "__main__":
    main()
