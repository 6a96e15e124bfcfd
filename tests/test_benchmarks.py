"""The benchmark scripts as a developer runs them: they finish with their results, whatever the
optional extras installed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# python -m benchmarks.run, with matplotlib unimportable whether or not it is installed.
WITHOUT_MATPLOTLIB = (
    "import sys; sys.modules['matplotlib'] = None; "
    "from benchmarks.run import main; sys.exit(main(sys.argv[1:]))"
)


@pytest.mark.slow
@pytest.mark.skipif(
    not (shutil.which("wrk") and (shutil.which("nginx") or Path("/usr/sbin/nginx").exists())),
    reason="needs Debian's wrk and nginx-light (.ci/run installs them)",
)
def test_a_benchmark_run_without_matplotlib_says_the_plot_was_skipped(tmp_path: Path) -> None:
    # The smallest real run: one size, one round of one second, the optional parts off.
    out = tmp_path / "results"
    finished = subprocess.run(
        [sys.executable, "-c", WITHOUT_MATPLOTLIB, "--sizes", "60", "--rounds", "1",
         "--seconds", "1", "--index-rounds", "1", "--no-ceiling", "--no-tier", "--no-static",
         "--corpus-dir", str(tmp_path / "corpus"), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert "Traceback" not in finished.stderr, finished.stderr
    skipped = [line for line in finished.stderr.splitlines() if "performance.png" in line]
    assert skipped == [
        "performance.png not drawn: matplotlib is not installed (pip install -e '.[bench]')"
    ]
    results = json.loads((out / "results.json").read_text())
    # The exit status is the targets' verdict, as with the plot.
    passed = all(verdict["passed"] is not False for verdict in results["verdicts"])
    assert finished.returncode == (0 if passed else 1), finished.stdout
    assert "PASS" in finished.stdout or "FAIL" in finished.stdout  # the tables were printed
    assert f"wrote {out / 'results.json'}\n" in finished.stdout
    assert not (out / "performance.png").exists()


@pytest.mark.slow
@pytest.mark.skipif(
    not (shutil.which("wrk") and (shutil.which("nginx") or Path("/usr/sbin/nginx").exists())),
    reason="needs Debian's wrk and nginx-light (.ci/run installs them)",
)
def test_a_benchmark_run_of_the_static_build_checks_every_server_sends_the_same_bytes(
    tmp_path: Path,
) -> None:
    # The run compares the bytes of every server before it times them; once the static build's
    # pages lost their search box, the service's kept it, and `--static` stopped at that check
    # ("permalink 200: static's body differs") with no run of its own to say so.
    out = tmp_path / "results"
    finished = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--sizes", "60", "--rounds", "1",
         "--seconds", "1", "--index-rounds", "1", "--no-ceiling", "--no-tier", "--static",
         "--corpus-dir", str(tmp_path / "corpus"), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert "Traceback" not in finished.stderr, finished.stderr
    results = json.loads((out / "results.json").read_text())
    [size] = results["sizes"]
    assert size["static_build_s"] > 0
    for name, case in size["cases"].items():  # every case timed on the built files too
        assert [run["bad"] for run in case["runs"]["static"]] == [0], name
        # and on nginx sending the baseline's files with the service's headers
        assert [run["bad"] for run in case["runs"]["headers"]] == [0], name
        assert len(case["static_vs_headers"]) == 1, name


def test_the_compression_floor_redoes_the_builds_compression_of_the_bodies_it_compressed(
    tmp_path: Path,
) -> None:
    # benchmarks.sitegen runs it after each `feedsvc build`; here on a folder laid out as a
    # build lays one out: a body with .gz and .br, one with .gz alone, one too short for either.
    from benchmarks import compressfloor
    from feedsvc import httpcache
    from feedsvc.build import BROTLI_MAX_BYTES, brotli_copy

    out = tmp_path / "out"
    (out / "articles").mkdir(parents=True)
    page = b"<p>Words that repeat, words that repeat.</p>\n" * 200
    feed = bytes(range(256)) * (BROTLI_MAX_BYTES // 256 + 1)  # over the brotli limit
    for relative, body in (("articles/a.html", page), ("feed.atom", feed)):
        (out / relative).write_bytes(body)
        zipped = httpcache.gzipped(body)
        assert zipped is not None
        (out / f"{relative}.gz").write_bytes(zipped)
        if (packed := brotli_copy(body, zipped)) is not None:
            (out / f"{relative}.br").write_bytes(packed)
    (out / "robots.txt").write_bytes(b"User-agent: *\n")
    result = compressfloor.measure(out, tmp_path / "written", jobs=2)
    assert result["bodies"] == 2 and result["br_kept"] == 1
    assert result["body_bytes"] == len(page) + len(feed)
    assert result["same_as_out"] is True
    assert result["written_files"] == 5 and result["compress_s"] > 0 and result["write_s"] > 0
    assert not (tmp_path / "written").exists()
