"""The baseline: nginx serving the same bytes as static files, from a scratch folder."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .harness import Processes

# The main context every nginx of the benchmark shares (the static baseline, the cache tier,
# the static build): two workers, sendfile, no access log, temporary files in ``dir``.
MAIN = """\
{modules}worker_processes 2;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp-body;
    proxy_temp_path {dir}/tmp-proxy;
    fastcgi_temp_path {dir}/tmp-fastcgi;
    uwsgi_temp_path {dir}/tmp-uwsgi;
    scgi_temp_path {dir}/tmp-scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
{http}
}}
"""
BASELINE_SERVER = """\
    types {{ application/atom+xml atom; application/rss+xml rss; }}
    default_type text/html;
    server {{
        listen 127.0.0.1:{port};
        root {dir}/root;
        location / {{ {gzip} }}
        location ~ \\.gz$ {{ add_header Content-Encoding gzip; add_header Vary Accept-Encoding; }}
    }}"""


def nginx_has_gzip_static() -> bool:
    out = subprocess.run(["nginx", "-V"], capture_output=True, text=True, check=True).stderr
    return "--with-http_gzip_static_module" in out


def start_nginx(
    procs: Processes, folder: Path, port: int, gzip_static: bool
) -> subprocess.Popen[bytes]:
    gzip = "gzip_static on; gzip_vary on;" if gzip_static else ""
    conf = folder / "nginx.conf"
    server = BASELINE_SERVER.format(dir=folder, port=port, gzip=gzip)
    conf.write_text(MAIN.format(modules="", dir=folder, http=server))
    proc = procs.start(["nginx", "-c", str(conf), "-p", str(folder)], log=folder / "nginx.out")
    return proc


def publish_static(root: Path, path: str, body: bytes, gzip_body: bytes | None) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    if gzip_body is not None:
        target.with_name(target.name + ".gz").write_bytes(gzip_body)
