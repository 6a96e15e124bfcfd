"""Beyond one machine, measured: the cache tier and the static build, each as nginx serves it.

- ``tier``: docs/nginx-front.conf made the cache tier as docs/deploy.md says (its ``#cache ``
  lines switched on), in front of the feedsvc being measured. Requests are feedsvc's own (the
  same path, Accept-Encoding and If-None-Match): after the warm-up every one is a cache hit.
- ``tiercap``: the same cache tier in front of the baseline nginx itself (its plain files, no
  feedsvc), asked what nginx is asked: the most nginx's ``proxy_cache`` can give any origin, the
  tier's ceiling. Plain files carry no Cache-Control, so this one alone adds
  ``proxy_cache_valid``.
- ``static``: ``feedsvc build OUT`` of the same index, with the same site URL, served with the
  nginx configuration the build writes beside OUT (brotli_static module loaded, as Debian
  packages it). nginx's own ETag (time and size of the file) for its 304s.

Both run with the baseline's main settings (benchmarks/nginx.py: two workers, sendfile,
access log off), so that each differs from the baseline by what it adds alone.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .harness import REPO, Processes
from .nginx import MAIN
from .service import feedsvc_command, feedsvc_env

FRONT_CONF = REPO / "docs" / "nginx-front.conf"
BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")


def tier_conf(port: int, node_port: int, cache: Path) -> str:
    """The cache tier as docs/deploy.md makes it, listening on ``port``, one node."""
    conf = re.sub(r"^(\s*)#cache ", r"\1", FRONT_CONF.read_text(), flags=re.MULTILINE)
    conf = conf.replace("/var/cache/nginx/feedsvc", str(cache))
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{port};")
    conf = re.sub(r"^\s*server 127\.0\.0\.1:8001;\n", "", conf, flags=re.MULTILINE)
    return conf.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{node_port};")


def start_tier(
    procs: Processes, folder: Path, port: int, node_port: int
) -> subprocess.Popen[bytes]:
    return _start_front(procs, folder, tier_conf(port, node_port, folder / "cache"))


def start_tier_ceiling(
    procs: Processes, folder: Path, port: int, nginx_port: int
) -> subprocess.Popen[bytes]:
    """The cache tier in front of the baseline nginx on ``nginx_port`` (see the module text)."""
    conf = tier_conf(port, nginx_port, folder / "cache")
    valid = r"\g<0>\n\1proxy_cache_valid 200 1h;"
    conf, found = re.subn(r"^(\s*)proxy_cache feedsvc_cache;$", valid, conf, flags=re.MULTILINE)
    if found != 1:
        raise RuntimeError(f"no proxy_cache line in {FRONT_CONF}")
    return _start_front(procs, folder, conf)


def _start_front(procs: Processes, folder: Path, conf: str) -> subprocess.Popen[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tier.conf").write_text(conf)
    main = MAIN.format(modules="", dir=folder, http=f"    include {folder}/tier.conf;")
    (folder / "nginx.conf").write_text(main)
    return procs.start(["nginx", "-c", str(folder / "nginx.conf"), "-p", str(folder)],
                       log=folder / "nginx.out")  # fmt: skip


def build_static(
    procs: Processes, seeds: Path, index: Path, out: Path, site_port: int, source: Path | None
) -> tuple[Path, float]:
    """``feedsvc build OUT`` with the measured service's settings; (its state folder, seconds)."""
    env = feedsvc_env(seeds, index, site_port, source)
    seconds, _ = procs.run([*feedsvc_command(), "build", str(out)], env=env, cwd=out.parent,
                           timeout=24 * 3600)  # fmt: skip
    return out.with_name(out.name + ".feedsvc"), seconds


def start_static(procs: Processes, folder: Path, port: int, state: Path) -> subprocess.Popen[bytes]:
    """nginx serving a build with the configuration written beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    modules = f"load_module {BROTLI_MODULE};\n" if BROTLI_MODULE.exists() else ""
    http = (f"    include {state}/nginx/http.conf;\n"
            f"    server {{\n        listen 127.0.0.1:{port};\n"
            f"        include {state}/nginx/server.conf;\n    }}")  # fmt: skip
    (folder / "nginx.conf").write_text(MAIN.format(modules=modules, dir=folder, http=http))
    return procs.start(["nginx", "-c", str(folder / "nginx.conf"), "-p", str(folder)],
                       log=folder / "nginx.out")  # fmt: skip
