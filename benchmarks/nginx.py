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


# The same files with the headers the service sends with them (``served``): the least nginx
# does to send the same responses, each path its own exact location, no map, lookup or regular
# expression. What the static build's generated configuration costs beyond sending those
# headers is measured against it.
HEADERS_SERVER = """\
    types {{
        "application/atom+xml; charset=utf-8" atom;
        "application/rss+xml; charset=utf-8" rss;
    }}
    default_type "text/html; charset=utf-8";
    server {{
        listen 127.0.0.1:{port};
        root {root};
        gzip_static on;
        gzip_vary off;
{locations}
    }}"""
# What nginx says from the file itself, or of the connection, rather than with add_header.
FILE_FIELDS = frozenset({"content-type", "content-length", "content-encoding", "etag",
                         "last-modified", "date", "server", "connection"})  # fmt: skip


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


def start_nginx_with_headers(
    procs: Processes, folder: Path, port: int, root: Path, served: dict[str, list[tuple[str, str]]]
) -> subprocess.Popen[bytes]:
    """nginx serving ``root`` (the baseline's files) with, at each path of ``served``, the
    header fields the service sent with it (but those nginx derives from the file)."""
    folder.mkdir(parents=True, exist_ok=True)
    locations = []
    for path, fields in served.items():
        lines = [f"add_header {name} {_quoted(value)};" for name, value in fields
                 if name.lower() not in FILE_FIELDS]  # fmt: skip
        locations.append(f"        location = {path} {{ {' '.join(lines)} }}")
    server = HEADERS_SERVER.format(port=port, root=root, locations="\n".join(locations))
    conf = folder / "nginx.conf"
    conf.write_text(MAIN.format(modules="", dir=folder, http=server))
    return procs.start(["nginx", "-c", str(conf), "-p", str(folder)], log=folder / "nginx.out")


def _quoted(value: str) -> str:
    if "$" in value:  # nginx would read a variable there
        raise RuntimeError(f"a header value with $ cannot be written as it is: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def publish_static(root: Path, path: str, body: bytes, gzip_body: bytes | None) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    if gzip_body is not None:
        target.with_name(target.name + ".gz").write_bytes(gzip_body)
