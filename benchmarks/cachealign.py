"""Why nginx's proxy_cache sends a large body slower than nginx sends the same bytes as a file.

    python -m benchmarks.cachealign [--rounds 5] [--seconds 5] [--bytes 197616] [--out FILE]

nginx keeps a cached response as one file: its own binary header, the key, the origin's status
line and headers, then the body. A hit is sent with sendfile() from where the body starts, and
that offset is the length of everything before it: almost never a multiple of the page size.
Three servers in one nginx (the main context of benchmarks/nginx.py), the same body bytes,
wrk rounds rotating which goes first:

- ``plain``: nginx serving the body as a file (the baseline of ``benchmarks.run``);
- ``cached``: nginx's proxy_cache in front of ``plain``, the body at its natural offset;
- ``aligned``: the same cache in front of an origin that adds an ``X-Pad`` header (nginx never
  passes that one to clients) exactly long enough to put the body on a page boundary.

cached / plain is the most nginx's proxy_cache gives any origin for a body of this size (the
cache tier's ceiling); aligned / plain shows that the body's offset, not the lookup by key, is
what costs. Each server's CPU (its nginx workers' user + system time) per 1,000 requests is
reported beside req/s: on a shared machine it moves less than req/s does.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from .harness import Processes, child_pids, fetch, free_port, log, wait_until_up, wrk
from .nginx import MAIN

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
# Headers of up to 16 KiB from the origin (the padding included) must fit nginx's buffer.
FRONT = """\
    location / {{
        proxy_pass http://127.0.0.1:{origin};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_cache {zone};
        proxy_cache_valid 200 1h;
        proxy_buffer_size 16k;
        proxy_buffers 8 16k;
        proxy_busy_buffers_size 32k;
    }}"""
SERVERS = ("plain", "cached", "aligned")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def http_block(folder: Path, ports: dict[str, int], pad_bytes: int) -> str:
    """The three servers, and the padded origin the aligned cache is in front of."""
    servers = [
        "    default_type application/atom+xml;",
        f"    proxy_cache_path {folder}/cache-cached keys_zone=cached:1m use_temp_path=off;",
        f"    proxy_cache_path {folder}/cache-aligned keys_zone=aligned:1m use_temp_path=off;",
        f"    server {{ listen 127.0.0.1:{ports['plain']}; root {folder}/root; }}",
        f"    server {{ listen 127.0.0.1:{ports['padded']}; root {folder}/root;",
        f'        add_header X-Pad "{"p" * pad_bytes}"; }}',
    ]
    for zone, origin in (("cached", ports["plain"]), ("aligned", ports["padded"])):
        servers.append(f"    server {{ listen 127.0.0.1:{ports[zone]};")
        servers.append(FRONT.format(origin=origin, zone=zone) + " }")
    return "\n".join(servers)


def body_offset(cache: Path) -> int:
    """Where the body starts in the one file of a proxy_cache folder (after the KEY line and
    the origin's header block)."""
    (path,) = [p for p in cache.rglob("*") if p.is_file()]
    data = path.read_bytes()
    return data.index(b"\r\n\r\n", data.index(b"\nKEY: ")) + 4


def start(
    procs: Processes, folder: Path, ports: dict[str, int], pad_bytes: int
) -> subprocess.Popen[bytes]:
    for cache in folder.glob("cache-*"):
        shutil.rmtree(cache)
    conf = folder / "nginx.conf"
    conf.write_text(MAIN.format(modules="", dir=folder, http=http_block(folder, ports, pad_bytes)))
    proc = procs.start(["nginx", "-c", str(conf), "-p", str(folder)], log=folder / "nginx.out")
    for who in SERVERS:
        wait_until_up(ports[who], "/feed.atom", proc, timeout=30)
    return proc


def worker_seconds(master: int) -> float:
    total = 0
    for pid in child_pids(master):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (proc(5) fields 14, 15)
    return total / TICKS_PER_SECOND


def spread(values: Sequence[float], form: str) -> str:
    show = [form.format(v) for v in (statistics.median(values), min(values), max(values))]
    return f"{show[0]} [{show[1]}-{show[2]}]"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cachealign",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5, help="per wrk run")
    parser.add_argument(
        "--bytes",
        type=int,
        default=197_616,
        help="body size (default: /feed.atom of the 1,000-document corpus)",
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, help="write the runs as JSON here")
    args = parser.parse_args(argv)
    procs = Processes()
    folder = Path(tempfile.mkdtemp(prefix="feedsvc-cachealign-"))
    folder.chmod(0o755)  # nginx's workers run as another user when started by root
    try:
        (folder / "root").mkdir()
        words = [b"<entry>", b"news", b"wire", b"</entry>", b"\n", b"report", b"city"]
        rng = random.Random(0)
        body = b" ".join(rng.choice(words) for _ in range(args.bytes))[: args.bytes]
        (folder / "root" / "feed.atom").write_bytes(body)
        ports = {who: free_port() for who in (*SERVERS, "padded")}
        # Fill the aligned cache once with a one-byte pad to learn the offset, then pad to it.
        proc = start(procs, folder, ports, 1)
        fetch(ports["aligned"], "/feed.atom")
        pad_bytes = 1 + (-body_offset(folder / "cache-aligned")) % PAGE_BYTES
        procs.stop(proc)
        proc = start(procs, folder, ports, pad_bytes)
        for who in SERVERS:
            reply = fetch(ports[who], "/feed.atom")
            if reply.status != 200 or reply.body != body or "x-pad" in reply.headers:
                raise RuntimeError(f"{who} does not answer with the body alone")
        offsets = {who: body_offset(folder / f"cache-{who}") for who in ("cached", "aligned")}
        if offsets["aligned"] % PAGE_BYTES:
            raise RuntimeError(f"the padded body starts at {offsets['aligned']}")
        log(f"body {len(body):,} bytes; in the cache files from byte {offsets}")
        master = proc.pid
        runs: dict[str, list[dict[str, float]]] = {who: [] for who in SERVERS}
        for who in SERVERS:  # warm-up: page cache, connections
            wrk(
                procs,
                f"http://127.0.0.1:{ports[who]}/feed.atom",
                (),
                seconds=1,
                connections=args.connections,
                threads=args.threads,
            )
        for round_ in range(args.rounds):
            order = SERVERS[round_ % 3 :] + SERVERS[: round_ % 3]
            for who in order:
                cpu_before = worker_seconds(master)
                measured = wrk(
                    procs,
                    f"http://127.0.0.1:{ports[who]}/feed.atom",
                    (),
                    seconds=args.seconds,
                    connections=args.connections,
                    threads=args.threads,
                )
                cpu = worker_seconds(master) - cpu_before
                if measured.bad:
                    raise RuntimeError(f"{who}: {measured.bad} bad responses")
                runs[who].append(
                    {
                        "rps": measured.rps,
                        "requests": measured.requests,
                        "cpu_ms_per_1000": cpu * 1e6 / measured.requests,
                    }
                )
            log(
                f"  round {round_ + 1}/{args.rounds}: "
                + ", ".join(f"{w} {runs[w][-1]['rps']:,.0f}/s" for w in SERVERS)
            )
        print(
            f"\nbody {len(body):,} bytes, cached from byte {offsets['cached']} "
            f"(aligned: {offsets['aligned']}, pad {pad_bytes} bytes); load average "
            f"{os.getloadavg()[0]:.1f}\n"
        )
        print("| server | req/s | req/s / plain | worker CPU ms per 1,000 requests |")
        print("|---|---|---|---|")
        for who in SERVERS:
            rps = [r["rps"] for r in runs[who]]
            ratio = [a["rps"] / b["rps"] for a, b in zip(runs[who], runs["plain"], strict=True)]
            cpu_ms = [r["cpu_ms_per_1000"] for r in runs[who]]
            print(
                f"| {who} | {spread(rps, '{:,.0f}')} | {spread(ratio, '{:.2f}')} "
                f"| {spread(cpu_ms, '{:.1f}')} |"
            )
        if args.out:
            args.out.write_text(
                json.dumps(
                    {
                        "date": time.strftime("%FT%TZ", time.gmtime()),
                        "offsets": offsets,
                        "pad_bytes": pad_bytes,
                        "body_bytes": len(body),
                        "runs": runs,
                    },
                    indent=2,
                )
            )
        return 0
    finally:
        procs.stop_all()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
