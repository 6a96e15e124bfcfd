"""The floor of a static build that writes pre-compressed copies: the compression alone.

    python -m benchmarks.compressfloor OUT [--write DEST]

OUT is what ``feedsvc build OUT`` wrote. Every body it compressed (each file with a ``.gz``
beside it) is read into memory first, so the disk is not timed; then the wall-clock time of
compressing them again as the build does: the service's gzip (``httpcache.gzipped``) and the
brotli attempt (``build.brotli_copy``), in as many forked processes as a build forks
(``build.default_jobs``), handed out in chunks as the build hands out URLs. No rendering, no
Flask, no files: what no renderer of the same files can avoid.

``--write DEST`` (an empty or absent folder) also times the write floor: the same bodies and
the copies OUT holds for them, staged by the same processes with ``build._stage`` and renamed
into place by this one, as a build commits (``outtree.OutTree._apply``). DEST is removed after.

Prints one JSON object (seconds, counts, bytes, and whether the copies made here have the sizes
of OUT's). ``benchmarks.sitegen`` runs it as a fresh process after each ``feedsvc build``.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from feedsvc import httpcache
from feedsvc.build import CHUNK_URLS, _stage, brotli_copy, default_jobs

# What the forked processes work on: set before the fork, read through the fork (not pickled).
_BODIES: list[bytes] = []
_FILES: list[tuple[str, bytes]] = []  # (path relative to OUT, bytes): bodies and their copies


def compressed_bodies(out: Path) -> tuple[list[str], int]:
    """The files of OUT the build compressed: those with a ``.gz`` beside them (sorted, relative
    to OUT); and how many other files are at least ``httpcache.MIN_GZIP_BYTES`` long (files the
    build writes but not as a URL's body, such as the server configuration)."""
    found: list[str] = []
    others = 0
    for root, _, names in os.walk(out):
        present = set(names)
        for name in names:
            if name.endswith((".gz", ".br")) and name[:-3] in present:
                continue  # a copy
            relative = os.path.relpath(os.path.join(root, name), out)
            if name + ".gz" in present:
                found.append(relative)
            elif os.lstat(os.path.join(root, name)).st_size >= httpcache.MIN_GZIP_BYTES:
                others += 1
    return sorted(found), others


def _compress(lo: int, hi: int) -> tuple[int, int, int]:
    """Compress bodies lo..hi as the build does: (gzip bytes, .br copies kept, their bytes)."""
    gz = kept = br = 0
    for body in _BODIES[lo:hi]:
        zipped = httpcache.gzipped(body)
        assert zipped is not None, "a body with a .gz beside it is one the service compresses"
        gz += len(zipped)
        packed = brotli_copy(body, zipped)
        if packed is not None:
            kept += 1
            br += len(packed)
    return gz, kept, br


def _stage_files(lo: int, hi: int, staging: str) -> list[tuple[str, str]]:
    """Stage files lo..hi as a render process does; (staged name, relative target) each."""
    staged = []
    for i in range(lo, hi):
        relative, data = _FILES[i]
        name = f"{os.getpid()}-{time.monotonic_ns()}-{i}"
        _stage(os.path.join(staging, name), data, 0)
        staged.append((name, relative))
    return staged


def _chunks(count: int, jobs: int) -> list[tuple[int, int]]:
    size = max(1, min(CHUNK_URLS, math.ceil(count / (2 * jobs))))  # build.Builder._render
    return [(lo, min(lo + size, count)) for lo in range(0, count, size)]


def _pool(jobs: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"))


def compression_floor(bodies: list[bytes], jobs: int) -> tuple[float, tuple[int, int, int]]:
    """Wall-clock seconds to compress ``bodies`` in ``jobs`` forked processes (forking them
    included); the summed (gzip bytes, .br kept, .br bytes)."""
    global _BODIES
    _BODIES = bodies
    started = time.perf_counter()
    with _pool(jobs) as pool:
        parts = list(pool.map(_compress, *zip(*_chunks(len(bodies), jobs), strict=True)))
    seconds = time.perf_counter() - started
    _BODIES = []
    gz, kept, br = (sum(column) for column in zip(*parts, strict=True)) if parts else (0, 0, 0)
    return seconds, (gz, kept, br)


def write_floor(files: list[tuple[str, bytes]], dest: Path, jobs: int) -> float:
    """Wall-clock seconds to stage ``files`` in ``jobs`` forked processes and rename each into
    place under ``dest`` from this one."""
    global _FILES
    _FILES = files
    staging = dest / ".staging"
    staging.mkdir(parents=True)
    started = time.perf_counter()
    with _pool(jobs) as pool:
        chunks = _chunks(len(files), jobs)
        staged = pool.map(_stage_files, *zip(*chunks, strict=True), [str(staging)] * len(chunks))
        made: set[str] = set()
        base = str(dest)
        for part in staged:
            for name, relative in part:
                target = os.path.join(base, relative)
                parent = os.path.dirname(target)
                if parent not in made:
                    os.makedirs(parent, exist_ok=True)
                    made.add(parent)
                os.replace(os.path.join(staging, name), target)
    seconds = time.perf_counter() - started
    _FILES = []
    return seconds


def measure(out: Path, dest: Path | None = None, jobs: int | None = None) -> dict:
    jobs = jobs or default_jobs()
    started = time.perf_counter()
    names, others = compressed_bodies(out)
    bodies = [(out / name).read_bytes() for name in names]
    read_s = time.perf_counter() - started
    on_disk_gz = sum((out / f"{name}.gz").stat().st_size for name in names)
    on_disk_br = [out / f"{name}.br" for name in names if (out / f"{name}.br").exists()]
    seconds, (gz, kept, br) = compression_floor(bodies, jobs)
    result = {
        "jobs": jobs,
        "bodies": len(bodies),
        "body_bytes": sum(map(len, bodies)),
        "gz_bytes": gz,
        "br_kept": kept,
        "br_bytes": br,
        "read_s": read_s,
        "compress_s": seconds,
        # The copies made here are the build's: their sizes and count agree with OUT's.
        "same_as_out": gz == on_disk_gz
        and kept == len(on_disk_br)
        and br == sum(path.stat().st_size for path in on_disk_br),
        "other_files_over_min_gzip": others,
    }
    if dest is not None:
        if dest.exists() and any(dest.iterdir()):
            raise SystemExit(f"{dest} is not empty")
        files = []
        for name, body in zip(names, bodies, strict=True):
            files.append((name, body))
            for ext in ("gz", "br"):
                copy = out / f"{name}.{ext}"
                if copy.exists():
                    files.append((f"{name}.{ext}", copy.read_bytes()))
        del bodies
        try:
            result["write_s"] = write_floor(files, dest, jobs)
            result["written_files"] = len(files)
            result["written_bytes"] = sum(len(data) for _, data in files)
        finally:
            shutil.rmtree(dest, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="a folder feedsvc build wrote")
    parser.add_argument("--write", type=Path, help="an empty folder: also time writing")
    parser.add_argument("--jobs", type=int, help="processes (default: as a build forks)")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.out, args.write, args.jobs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
