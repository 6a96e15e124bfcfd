"""Where each URL's file goes in a static build, and what a server must say that files cannot.

**Files.** ``file_path`` is the one mapping from a URL to a file in OUT:

=============================== ==================================
``/feed.atom``, ``/sitemap.xml`` ``feed.atom``, ``sitemap.xml`` (a name with an extension: as is)
``/``                            ``index.html``
``/sources/reuters``             ``sources/reuters.html`` (a name without one: ``.html`` added)
``/articles/<id>/<slug>``        ``articles/<id>/<slug>.html``
``/?page=2``                     ``index/page/2.html``
``/sources/reuters?page=2``      ``sources/reuters/page/2.html``
``/static/site.css?v=1a2b``      ``static/site.css`` (a content version names the same file)
=============================== ==================================

``.html`` files for extension-less URLs are what Netlify and Cloudflare Pages serve for ``/name``
without a redirect to ``/name/``; a page's feeds sit in the folder of the same name beside it.
The query of a listing page becomes a path, and the generated configurations rewrite ``?page=N``
to it (nginx: ``map``s on ``$args``, for the listings alone; Netlify: a query rule in
``_redirects``).

**Configuration**, generated from what the app answered for every URL (never a copied string):
``OUT.feedsvc/nginx/`` holds ``http.conf`` (maps, for the ``http`` block), ``server.conf`` (for a
``server`` block: root, media types with charset, per-file headers such as Cache-Control, Vary,
Link and whatever else the service sends, ``gzip_static`` / ``brotli_static``, redirects, the
404 page) and ``site.conf`` (a whole server listening on port 80 that includes both);
``OUT/_headers`` and ``OUT/_redirects`` say the same for Netlify and Cloudflare Pages.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from .channels import PREVIEW_SUFFIX, PREVIEWED_SUFFIXES
from .inventory import NOT_FOUND_URL
from .outtree import Entry, OutTree
from .params import WHOLE_NUMBER
from .preview import NAVIGATION
from .urls import ARTICLES_PREFIX
from .web import SERVER_METHODS

ARTICLE_URL = re.compile(r"/articles/([0-9a-f]{16})/[^/?]+")
# Where article pages live. nginx serves them from a location of their own, which sends the
# headers of article pages (nginx_server), so that a new article's page is served with its
# headers before the configuration is written again (a watching build writes it last:
# build.Builder._commit). Every file under it must be an article page (ARTICLE_FILE).
ARTICLES_FOLDER = ARTICLES_PREFIX
# An article page's file as nginx's $uri names it.
ARTICLE_FILE = r"/articles/[0-9a-f]{16}/[^/]+[.]html"
STATIC_FOLDER = "/static/"  # assets.py
NGINX_FOLDER = "nginx"
HOST_FILES = ("_headers", "_redirects")
# The one query parameter a file can stand for: ?page=N of a listing.
PAGE_PARAMETER = "page"
PAGE_QUERY = f"?{PAGE_PARAMETER}="
# A content version (assets.py: /static/site.css?v=<hash>): the URL names the plain path's file.
VERSION_PARAMETER = "v"

# Cloudflare Pages applies the first 100 rules of _headers and skips the rest (its parser,
# MAX_HEADER_RULES; developers.cloudflare.com/pages/configuration/headers). So _headers starts
# with the rules of the files most requested, each a test of a rule's path without the base
# path: the whole site or its front page, article pages, static files, the site's own feeds
# and feed list. Such a site gets its security headers where they matter most.
HEADER_RANKS: tuple[Callable[[str], bool], ...] = (
    lambda path: path in ("/", "/*"),
    lambda path: path == ARTICLES_FOLDER + "*",
    lambda path: path.startswith(STATIC_FOLDER),
    lambda path: path.count("/") == 1 and path.endswith(PREVIEWED_SUFFIXES),
)

NOT_FOUND_PAGE = f"error_page 404 {NOT_FOUND_URL};"
# The body of a redirect from the generated nginx configuration: constant, since nginx cannot
# escape the target address for HTML (the service's own body links it; browsers follow the
# Location header either way), and labelled as the service labels its own.
MOVED_CONTENT_TYPE = "text/html; charset=utf-8"
MOVED_BODY = (
    "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n"
    "<p>This address has moved permanently to the one in the Location header.\n"
)

# The methods a file is sent for; any other is 405, but OPTIONS, 200 (both with Allow).
SERVED_METHODS = ("GET", "HEAD")

# The body of nginx's 405 for a method the service does not allow (web.SERVER_METHODS).
NOT_ALLOWED_BODY = (
    "<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n"
    "<h1>Method Not Allowed</h1>\n<p>This address answers GET and HEAD.\n"
)


# One header's values (_Site._value_map).
_ValueMap = tuple[str, list[tuple[str, str]], str | None, list[tuple[str, str]]]


class UnmappableURL(ValueError):
    """A URL with no place in a static tree (a query other than ?page=N, a dot segment)."""


def file_path(url: str) -> str:
    """The file, relative to OUT, that holds the response to ``url`` (see the module table)."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if not path.startswith("/") or "//" in path or {".", ".."} & set(path.split("/")):
        raise UnmappableURL(f"{url!r} has no file: not a normalised absolute path")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if len(query) == 1 and query[0][0] == VERSION_PARAMETER:
        query = []
    if query:
        if (
            len(query) != 1
            or query[0][0] != PAGE_PARAMETER
            or not WHOLE_NUMBER.fullmatch(query[0][1])
        ):
            raise UnmappableURL(f"{url!r} has no file: only ?{PAGE_PARAMETER}=N maps to one")
        stem = path.rstrip("/") or "/index"
        return f"{stem}/{PAGE_PARAMETER}/{query[0][1]}.html".lstrip("/")
    if path.endswith("/"):
        return (path + "index.html").lstrip("/")
    # The last segment: the checks above leave no empty or dot segment for a PurePosixPath
    # to tidy away, and a build calls this for every URL.
    if "." in path.rpartition("/")[2]:
        return path.lstrip("/")
    return path.lstrip("/") + ".html"


# -- staging the configuration ------------------------------------------------------------------


class RedirectHeaders(NamedTuple):
    """What the app sends (besides Location) with the 301s nginx answers from patterns: from
    an article's other addresses to its page (``article``: kept as long as the page, a headline
    can change back), and from an address with a trailing slash (``slash``: kept a day)."""

    article: tuple[tuple[str, str], ...]
    slash: tuple[tuple[str, str], ...]


def former_redirects(former_pages: Iterable[str], entries: Iterable[Entry]) -> dict[str, str]:
    """Former article page URL -> its article's page URL, for each of ``former_pages`` whose
    article has a page among ``entries`` that is not that one again (a headline can change
    back), in URL order."""
    current = {
        entry.url.split("/")[2]: entry.url
        for entry in entries
        if entry.file is not None and ARTICLE_URL.fullmatch(entry.url)
    }
    found = {}
    for url in sorted(former_pages):
        page = current.get(url.split("/")[2])
        if page is not None and page != url:
            found[url] = page
    return found


def stage(
    tree: OutTree,
    entries: Iterable[Entry],
    site_url: str,
    redirect_headers: RedirectHeaders,
    former_pages: Mapping[str, str] | None = None,
) -> tuple[list[tuple[str, Path]], list[str]]:
    """Render every configuration file, and stage those whose text changed. ``former_pages``
    is former_redirects' mapping. Returns (moves for OutTree.commit, names written)."""
    entries = sorted(entries, key=lambda entry: entry.url)
    site = _Site(site_url, tree, entries, redirect_headers, former_pages or {})
    nginx = tree.state / NGINX_FOLDER
    texts = {
        nginx / "http.conf": site.nginx_http(),
        nginx / "server.conf": site.nginx_server(),
        nginx / "permalinks.map": site.nginx_permalinks(),
        nginx / "site.conf": site.nginx_site(),
        tree.out / "_headers": site.headers_file(),
        tree.out / "_redirects": site.redirects_file(),
    }
    moves, written = [], []
    for target, text in texts.items():
        data = text.encode()
        try:
            if target.read_bytes() == data:
                continue
        except FileNotFoundError:
            pass
        name = f"config-{target.name}"
        (tree.staging / name).write_bytes(data)
        moves.append((name, target))
        written.append(os.path.relpath(target, tree.out))
    return moves, written


class _Site:
    def __init__(
        self,
        site_url: str,
        tree: OutTree,
        entries: list[Entry],
        redirect_headers: RedirectHeaders,
        former_pages: Mapping[str, str],
    ):
        self.site_url = site_url
        self.former_pages = former_pages
        self.base_path = urlsplit(site_url).path.rstrip("/")
        self.root = str(tree.out)
        self.nginx = str(tree.state / NGINX_FOLDER)
        self.redirect_headers = redirect_headers
        self.files = [e for e in entries if e.file is not None]
        self.redirects = [e for e in entries if e.file is None]
        # Each file's headers by name, and its $uri split by kind (_value_map): read once, not
        # once per header name and configuration file (200,000 files at 100,000 articles).
        self._headers = [dict(e.headers) for e in self.files]
        pages = re.compile(ARTICLE_FILE)
        self._uris: tuple[list[tuple[str, int]], list[tuple[str, int]]] = ([], [])
        for number, entry in enumerate(self.files):
            uri = "/" + str(entry.file)
            is_article = bool(pages.fullmatch(uri))
            if uri.startswith(ARTICLES_FOLDER) and not is_article:
                raise UnmappableURL(
                    f"{entry.url}: its file {uri} is under {ARTICLES_FOLDER} but no article's "
                    "page (the generated nginx configuration sends it an article's headers)"
                )
            self._uris[is_article].append((uri, number))
        self._value_maps: dict[str, _ValueMap] = {}

    # -- what the app said, per file ----------------------------------------------------------

    def media_types(self) -> dict[str, str]:
        """Extension -> the Content-Type the service sends for files with it."""
        found: dict[str, str] = {}
        for entry, headers in zip(self.files, self._headers, strict=True):
            assert entry.file is not None
            extension = PurePosixPath(entry.file).suffix.lstrip(".")
            content_type = headers["Content-Type"]
            if found.setdefault(extension, content_type) != content_type:
                raise UnmappableURL(
                    f"files ending .{extension} are served as {found[extension]} and as "
                    f"{content_type} ({entry.url}); one extension needs one media type"
                )
        return found

    def header_names(self) -> list[str]:
        names = {name for e in self.files for name, _ in e.headers}
        names.discard("Content-Type")
        names.discard("Location")
        return sorted(names)

    def _header_value(self, name: str, articles: bool = False) -> str:
        """What an add_header sends as ``name``, for the files but article pages or for the
        article pages: the value itself when every such file has the same (no map to look up
        at every request), else its map's variable (nginx_http)."""
        common, others, article_common, article_others = self._value_map(name)
        if articles:
            assert article_common is not None
            common, others = article_common, article_others
        return _variable(name, articles) if others else _quote(common)

    def _value_map(self, name: str) -> _ValueMap:
        """One header's (most common value of the files but article pages, [(nginx $uri, value)
        for each of those files with another], the same two for the article pages: None and []
        without any)."""
        if name not in self._value_maps:
            rest, articles = (
                [(uri, self._headers[number].get(name, "")) for uri, number in uris]
                for uris in self._uris
            )
            common = _most_common(rest or articles)
            article_common = _most_common(articles) if articles else None
            self._value_maps[name] = (
                common,
                [(uri, value) for uri, value in rest if value != common],
                article_common,
                [(uri, value) for uri, value in articles if value != article_common],
            )
        return self._value_maps[name]

    # -- nginx ---------------------------------------------------------------------------------

    def nginx_http(self) -> str:
        count = len(self.files) + len(self.redirects) + 64
        lines = [
            "# Generated by `feedsvc build`; include in nginx's http block (Debian: conf.d).",
            f"map_hash_max_size {max(2048, _power_of_two(count * 2))};",
            "map_hash_bucket_size 256;",
            "# A literal $ inside a value (nginx interpolates variables in values).",
            'geo $feedsvc_dollar { default "$"; }',
            "",
            "# The methods the service answers (web.SERVER_METHODS but OPTIONS, which is told",
            "# which with the 405's Allow): a hash lookup rather than a regular expression for",
            "# every request. A map matches strings ignoring case (nginx.org/r/map), and nginx",
            "# refuses a method with a lower-case letter (400) before reading any configuration.",
            "map $request_method $feedsvc_method_refused {",
            '    default "1";',
            *(f'    {_key(method)} "";' for method in SERVED_METHODS),
            "}",
            "",
            *self._nginx_page_maps(),
            *self._nginx_query_maps(),
            "# A browser's navigation to a feed gets the feed's preview page (preview.py); only",
            "# to a feed or the OPML list: a page's own file also ends in .html, and its ?page=N",
            "# is another file. $feedsvc_navigation is the preview's suffix for a navigation (the",
            "# request headers alone; without them, as from feed readers, a hash lookup and no",
            "# regular expression), $feedsvc_preview the same only for a path with a previewed",
            "# extension, read only for a navigation.",
            f"map {_navigation_source()} $feedsvc_navigation {{",
            f'    {_key(":" * len(NAVIGATION))} "";',
            f"    {_key(_navigation_value())} {_key(PREVIEW_SUFFIX)};",
            '    default "";',
            "}",
            "map $feedsvc_navigation $feedsvc_preview {",
            '    "" "";',
            "    default $feedsvc_previewed;",
            "}",
            "map $uri $feedsvc_previewed {",
            f"    {_key(_previewed_path())} {_key(PREVIEW_SUFFIX)};",
            '    default "";',
            "}",
            "",
            "# An article's id, for the 301 from its other URLs (old slugs, no slug) to its page.",
            "map $uri $feedsvc_article_id {",
            '    "~^/articles/(?<feedsvc_article>[0-9a-f]{16})(?:/|$)" $feedsvc_article;',
            '    default "";',
            "}",
            "map $feedsvc_article_id $feedsvc_permalink {",
            '    default "";',
            f"    include {_key(self.nginx + '/permalinks.map')};",
            "}",
            "",
            "# Headers the service sends, per file ($uri after try_files); most files share the",
            "# default, the others are listed: a hash lookup each, no regular expression.",
            f"# Those of article pages ({ARTICLES_FOLDER}, a location of their own) apart. A",
            "# header with one value for every file has no map (its add_header says it).",
        ]
        for name in self.header_names():
            common, others, article_common, article_others = self._value_map(name)
            for articles, default, listed in ((False, common, others),
                                              (True, article_common, article_others)):  # fmt: skip
                if listed:
                    lines.append(f"map $uri {_variable(name, articles)} {{")
                    lines.append(f"    default {_quote(str(default))};")
                    lines += [f"    {_key(uri)} {_quote(value)};" for uri, value in listed]
                    lines.append("}")
        return "\n".join(lines) + "\n"

    def _nginx_page_maps(self) -> list[str]:
        """The maps that find the file of an address the way file_path does, and only for an
        address the service answers (see the module's table and ``pages``)."""
        pages = self.pages()
        lines = [
            "# ?page= as the service reads it (params.CacheKeys, web.whole_number): the first one,",
            '# "page" alone being an empty one; "" when absent, "/page/N" for a whole number',
            "# without a leading zero, however long (the file <listing>/page/N.html, if there",
            '# is one; none past the last page), "bad" for anything else.',
            "map $args $feedsvc_page_arg {",
            f'    "~(?:^|&){PAGE_PARAMETER}(?:=(?<feedsvc_page_raw>[^&]*))?(?:&|$)"'
            ' "=$feedsvc_page_raw";',
            '    default "";',
            "}",
            "map $feedsvc_page_arg $feedsvc_page {",
            '    "" "";',
            f'    "~^=(?<feedsvc_page_number>{WHOLE_NUMBER.pattern})$"'
            ' "/page/$feedsvc_page_number";',
            '    default "bad";',
            "}",
            "",
            "# $feedsvc_path is the address's path without the trailing slash other tools write",
            "# (/sources/ is /sources): each location that reads the maps below sets it, to $uri",
            "# where no address ends in a slash (nginx_server), else to this, which is read only",
            "# there: no regular expression for the others.",
            "map $uri $feedsvc_slashless {",
            '    "~^(?<feedsvc_slashless_path>/.+?)/+$" $feedsvc_slashless_path;',
            '    default "";',
            "}",
            "# The pages but articles' (an address without an extension: its file adds .html):",
            '# a "listing" reads ?page=N (its file <path>/page/N.html); a "page" reads no query,',
            "# so the service ignores ?page= there, as any parameter a route does not read.",
            "# A map matches strings ignoring case (nginx.org/r/map) where paths, the service's",
            "# and the disk's, do not: /Sources/ is no page. So the lookup gives the path as",
            '# listed and its kind, "" for most addresses at once, and a page\'s kind is the one',
            "# listed only when the path is the listed one, letter for letter (a regular",
            "# expression, for pages only).",
            "map $feedsvc_path $feedsvc_page_listed {",
            '    default "";',
            *(f"    {_key(path)} {_quote(f'{path} {kind}')};" for path, kind in pages.items()),
            "}",
            "map $feedsvc_page_listed $feedsvc_page_kind {",
            '    "" "";',
            "    default $feedsvc_page_same_case;",
            "}",
            'map "$feedsvc_path $feedsvc_page_listed" $feedsvc_page_same_case {',
            '    "~^(?<feedsvc_listed_path>[^ ]+) \\k<feedsvc_listed_path>'
            ' (?<feedsvc_listed_kind>page|listing)$" $feedsvc_listed_kind;',
            '    default "";',
            "}",
            "# What the path of a page's address is followed by in its file's name; \"bad\" when",
            '# a listing cannot read its ?page= (400); "" for an address that is not a page.',
            "# Hash lookups only: ?page= is read (a regular expression) for a listing alone.",
            "map $feedsvc_page_kind $feedsvc_page_file {",
            '    default "";',
            '    "page" ".html";',
            '    "listing" $feedsvc_listing_file;',
            "}",
            "map $feedsvc_page $feedsvc_listing_file {",
            '    "" ".html";',
            '    "bad" "bad";',
            '    default "$feedsvc_page.html";  # /page/N',
            "}",
            '# The path as a file\'s own name, or "" (no file): no address ends in .html but a',
            "# feed's preview (/sources/reuters.html is the file of /sources/reuters, index.html",
            "# the front page's), and the not-found page's file is no address either. One",
            "# regular expression: an .html not preceded by a previewed extension.",
            "map $feedsvc_path $feedsvc_own_file {",
            f'    {_key(NOT_FOUND_URL)} "";',
            f'    {_key(_not_a_preview())} "";',
            "    default $feedsvc_path;",
            "}",
            "",
        ]
        return lines

    def _query_names(self) -> list[str]:
        """The query parameters the app's redirects are chosen by (``/?feed=rss2``)."""
        return sorted({n for e in self.redirects for n, _ in parse_qsl(urlsplit(e.url).query)})

    def _nginx_query_maps(self) -> list[str]:
        """A map per query parameter a redirect is chosen by: its first value as the service
        reads it, "=value", or "" when absent. $arg_NAME would match the name ignoring case
        (nginx.org/r/var_arg_), where the service reads ?FEED=rss2 as no feed parameter."""
        lines = []
        for name in self._query_names():
            lines += [
                f"map $args $feedsvc_arg_{name} {{",
                f'    "~^(?:(?!{name}(?:[=&]|$))[^&]*&)*{name}(?:=(?<feedsvc_arg_{name}_raw>'
                f'[^&]*))?(?:&|$)" "=$feedsvc_arg_{name}_raw";',
                '    default "";',
                "}",
            ]
        return [*lines, ""] if lines else []

    def _feed_locations(self) -> str:
        """An exact location for each previewed file at the top of the site (/feed.atom,
        /feeds.opml): the most requested addresses. Others are served by ``location /``."""
        paths = sorted(
            path
            for entry in self.files
            if entry.status == 200
            and (path := urlsplit(entry.url).path).count("/") == 1
            and path.endswith(PREVIEWED_SUFFIXES)
            and path == "/" + str(entry.file)
        )
        return "\n".join(
            f"location = {_key(path)} {{ try_files $uri$feedsvc_navigation $uri =404; }}"
            for path in paths
        )

    def pages(self) -> dict[str, str]:
        """Path -> "listing" (reads ?page=N) or "page", for every page's address outside
        /articles/ (those have a location of their own). A listing is a path the app answered
        with ?page=N (inventory lists ?page=1 of every listing)."""
        paged = {urlsplit(e.url).path for e in self.files if PAGE_QUERY in e.url}
        found = {}
        for entry in self.files:
            path = urlsplit(entry.url).path
            if entry.status != 200 or ARTICLE_URL.fullmatch(path):
                continue
            if path.endswith(PREVIEW_SUFFIX) and not re.search(_preview_address()[1:], path):
                raise UnmappableURL(
                    f"{entry.url}: only a feed's preview may end in {PREVIEW_SUFFIX} (the "
                    "generated nginx configuration answers any other such address with 404)"
                )
            if "." not in PurePosixPath(path).name:
                if " " in path:  # the page maps put a space after it
                    raise UnmappableURL(f"{entry.url!r}: a page's address has no space")
                found[path] = "listing" if path in paged else "page"
        return found

    def nginx_permalinks(self) -> str:
        lines = []
        for entry in self.files:
            if ARTICLE_URL.fullmatch(entry.url):
                lines.append(f"{entry.url.split('/')[2]} {_quote(self.site_url + entry.url)};")
        return "\n".join(lines) + "\n"

    def nginx_server(self) -> str:
        types = "\n".join(
            f"    {_key(content_type)} {extension};"
            for extension, content_type in sorted(self.media_types().items())
        )
        # The headers the service sends with its error pages (the security headers) go with
        # every status nginx answers ("always"); the others (Cache-Control, Vary, Link) only
        # with its 2xx and 3xx, as the service sends none with an error: else a 412, 416 or
        # 405 of nginx's own would carry a file's max-age, for a CDN to keep.
        not_found = next((e.headers for e in self.files if e.url == NOT_FOUND_URL), ())
        on_errors = {name for name, _ in not_found}
        # With no article page there is nothing to say of them: the server's headers apply.
        add_headers, article_headers = (
            "\n".join(
                f"{indent}add_header {name} {self._header_value(name, articles)}"
                f"{' always' if name in on_errors else ''};"
                for name in self.header_names()
            )
            if not articles or self._uris[True]
            else ""
            for indent, articles in (("", False), ("    ", True))
        )
        moved = self._moved_locations()
        slash_redirect, article_redirect = (
            "\n".join(f"    {line}" for line in _moved_lines(moved, headers, 301))
            for headers in (self.redirect_headers.slash, self.redirect_headers.article)
        )
        bad_page = (
            '    if ($feedsvc_page_file = "bad") {\n'
            + "".join(f"        {line}\n" for line in _add_headers(not_found))
            + "        charset utf-8;  # nginx's own text/html body, labelled as the service's\n"
            + "        return 400;\n    }\n"
        )
        not_allowed_headers = "".join(f"    {line}\n" for line in _add_headers(not_found))
        moved_locations = "\n".join(
            f"location {name} {{\n"
            "    types { }\n"
            f"    default_type {_key(MOVED_CONTENT_TYPE)};\n"
            + "".join(f"    {line}\n" for line in _add_headers(headers))
            + f"    return 200 {_quote(MOVED_BODY)};\n}}"
            for headers, name in moved.items()
        )
        base = self.base_path
        by_query = self._redirects_by_path(moved)
        front_redirects = "".join(f"    {line}\n" for line in by_query.pop("/", []))
        redirects = "\n".join(
            f"location = {path} {{\n" + "".join(f"    {line}\n" for line in lines) + "}"
            for path, lines in by_query.items()
        )
        prefix = (
            f"# The site lives under {base}/: files are looked up without it. Not its 404 page's\n"
            "# file, which is no address of the site: rewritten, it would be served with 200, as\n"
            "# a rewritten request may enter an internal location (nginx.org/r/internal).\n"
            f"if ($uri = {_key(base + NOT_FOUND_URL)}) {{ return 404; }}\n"
            f"rewrite ^{re.escape(base)}(/.*)$ $1 last;\n"
            f"rewrite ^{re.escape(base)}$ / last;\n"
            if base
            else ""
        )
        site = _quote(self.site_url)[1:-1]  # inside a quoted string, before a path
        moved_to_path = f'return 301 "{site}$feedsvc_path$is_args$args";'
        odd_addresses = """\
# Odd addresses, in one regular expression (tried for any address no exact location takes),
# each told apart inside. Doubled slashes are not merged, as the service does not
# (merge_slashes off, above: a file's path would find the file all the same): not found. The
# compressed copies are for gzip_static / brotli_static (which open them without a lookup): not
# found. An address with a trailing slash, as other tools write them (/sources/): 301 to the
# one without it when that one is a page, a file or an article (the service's same 301,
# pages._without_trailing_slash), the query kept; else not found. (With no doubled slash, the
# last alternative is ^(/.+?)/+$, which $feedsvc_slashless captures.)
location ~ "//|[.](?:gz|br)$|^/.+/$" {{
{redirect}
    if ($uri ~ "//|[.](?:gz|br)$") {{ return 404; }}
    set $feedsvc_path $feedsvc_slashless;
    if ($feedsvc_page_kind) {{ {moved_to_path} }}
    if (-f $document_root$feedsvc_own_file) {{ {moved_to_path} }}
    if ($feedsvc_permalink != "") {{ {moved_to_path} }}
    return 404;
}}"""
        # Under /articles/ its redirects are an article's (pages._without_trailing_slash).
        odd_articles = odd_addresses.format(redirect=article_redirect, moved_to_path=moved_to_path)
        odd_addresses = odd_addresses.format(redirect=slash_redirect, moved_to_path=moved_to_path)
        return f"""\
# Generated by `feedsvc build` for {self.site_url}: the static copy of what `feedsvc serve`
# answers. Include inside a server block; include http.conf in the http block. Needs nginx's
# gzip_static (built in) and brotli_static (Debian: libnginx-mod-http-brotli-static).
root {_quote(self.root)};
# Methods as the service answers them: GET and HEAD; OPTIONS is told which (200), any other
# is 405, both with the Allow header RFC 9110 15.5.6 requires (nginx's own 405 has none, and
# its redirects would answer a POST with a 301). First: a rewrite below ends this phase.
if ($feedsvc_method_refused) {{ return 405; }}
{prefix}
# Media types as the service sends them, charset included.
types {{
{types}
}}
default_type application/octet-stream;
charset off;
gzip_static on;
brotli_static on;
gzip_vary off;  # Vary comes with the service's own headers below
etag on;
# Not modified since a date at or after the file's time (RFC 9110 13.1.3), as the service
# answers; nginx's default compares the two dates for equality.
if_modified_since before;
max_ranges 0;  # the whole body for a Range, as the service sends it (RFC 9110 14.2 allows it)
merge_slashes off;  # //feed.atom and /sources//reuters are not found, as from the service
{add_headers}

# The 405 of the method check above, and of the static files: with Allow.
error_page 405 = @feedsvc_methods;
location @feedsvc_methods {{
    types {{ }}
    default_type {_key(MOVED_CONTENT_TYPE)};
    add_header Allow {_quote(", ".join(SERVER_METHODS))} always;
{not_allowed_headers}    if ($request_method = OPTIONS) {{ return 200; }}
    return 405 {_quote(NOT_ALLOWED_BODY)};
}}

{NOT_FOUND_PAGE}
location = {NOT_FOUND_URL} {{ internal; etag off; }}  # the service's 404 has no ETag
location = /_headers {{ return 404; }}
location = /_redirects {{ return 404; }}

# Listings: /?page=N -> index/page/N.html; /sources/x?page=N -> sources/x/page/N.html. A
# ?page= that is no page number is refused as the service refuses it (400), with the headers
# it sends with its error pages.
location = / {{
    set $feedsvc_path $uri;
{front_redirects}{bad_page}    try_files /index$feedsvc_page_file =404;
}}
# A feed FEED answers a browser's navigation with FEED.html, its preview; other paths have no
# such file, or it is the page itself (/sources/reuters -> sources/reuters.html). The files of
# other addresses (/index.html, /sources/reuters.html, /index/page/2) are not found.
location / {{
    set $feedsvc_path $uri;  # no address here ends in a slash: those are odd (below)
{bad_page}    try_files $feedsvc_own_file$feedsvc_preview $feedsvc_own_file$feedsvc_page_file =404;
}}
# The site's own feeds and feed list, which every subscriber polls: an exact location each, so
# that nginx tries no regular expression location for them (nginx.org/r/location), and what
# `location /` does for them without its maps (no page, their own file, a previewed extension).
{self._feed_locations()}
# Article pages: a prefix location after which nginx tries no regular expression location
# (^~, nginx.org/r/location), so the server's (below) are repeated inside; and the headers of
# article pages written in (a block with add_header of its own inherits none of the server's),
# where a map on $uri for every file would try a regular expression for article pages.
location ^~ {ARTICLES_FOLDER} {{
{article_headers}
    try_files $uri.html @feedsvc_article;
{_indent(odd_articles)}
}}
location @feedsvc_article {{
{article_redirect}
    if ($feedsvc_permalink = "") {{ return 404; }}
    # permalinks.map is read when nginx is (re)loaded: after a build renamed or removed an
    # article, until then, its old page is the one the map names, and has no file any more.
    if ($feedsvc_permalink = "{site}$uri") {{ return 404; }}
    return 301 $feedsvc_permalink;
}}
{odd_addresses}

# Redirects the service answers (301 from the common feed addresses and the like; 302 from
# the address of an archive month split into days, to its newest page).
{redirects}

# The body and headers of the redirects above. nginx writes a redirect's body itself, as
# text/html with no charset (its charset module leaves 301 and 302 alone), where the service
# says text/html; charset=utf-8: so each redirect hands its answer over with error_page, which
# keeps the status and Location, to one of these, which writes the body with the headers the
# service sends with that redirect (a block with add_header of its own inherits none).
{moved_locations}
"""

    def _moved_locations(self) -> dict[tuple[tuple[str, str], ...], str]:
        """A named location for each set of headers the app sent with its redirects."""
        found: dict[tuple[tuple[str, str], ...], str] = {}
        for headers in [*self.redirect_headers, *(e.headers for e in self.redirects)]:
            key = _redirect_headers(headers)
            found.setdefault(key, f"@feedsvc_moved_{len(found)}")
        return found

    def _redirects_by_path(
        self, moved: dict[tuple[tuple[str, str], ...], str]
    ) -> dict[str, list[str]]:
        """nginx lines answering each redirect the app gave, by path: those chosen by a query
        parameter (``/?feed=rss2``, ``?alt=rss``) first, then the path's own, if any."""
        lines: dict[str, list[str]] = {}
        plain: dict[str, str] = {}
        for entry in self.redirects:
            parts = urlsplit(entry.url)
            answer = " ".join(
                [
                    *_moved_lines(moved, entry.headers, entry.status),
                    f"return {entry.status} {_location(entry)};",
                ]
            )
            if not parts.query:
                plain[parts.path] = answer
                continue
            query = parse_qsl(parts.query, keep_blank_values=True)
            if len(query) != 1 or not re.fullmatch(r"[a-z0-9_]+", query[0][0]):
                raise UnmappableURL(f"{entry.url!r}: one simple query parameter per redirect")
            name, value = query[0]
            lines.setdefault(parts.path, []).append(
                f"if ($feedsvc_arg_{name} = {_key('=' + value)}) {{ {answer} }}"
            )
        for path, answer in plain.items():
            lines.setdefault(path, []).append(answer)
        for path in lines:
            if path != "/" and path not in plain:
                raise UnmappableURL(f"{path}: a redirect by query needs one without it too")
        return lines

    def nginx_site(self) -> str:
        host = urlsplit(self.site_url).hostname
        return f"""\
# Generated by `feedsvc build`: a whole site for Debian's nginx (/etc/nginx/sites-enabled/).
# For https, add your certificate lines (or terminate TLS in front of this server).
include {_key(self.nginx + "/http.conf")};
server {{
    listen 80;
    server_name {host};
    include {_key(self.nginx + "/server.conf")};
}}
"""

    # -- Netlify / Cloudflare Pages --------------------------------------------------------------

    def headers_file(self) -> str:
        leaves: dict[str, tuple[tuple[str, str], ...]] = {}
        for entry in self.files:
            path = self.base_path + urlsplit(entry.url).path
            headers = tuple(sorted(entry.headers))
            if entry.url == "/404.html":
                continue
            leaves.setdefault(path, headers)
        lines = ["# Generated by `feedsvc build`: response headers for Netlify / Cloudflare Pages."]
        # Each path is covered by one rule (_compress), so their order changes nothing on
        # Netlify; Cloudflare Pages reads only the first 100 (HEADER_RANKS).
        rules = sorted(_compress(leaves), key=lambda rule: self._header_rank(rule[0]))
        for pattern, headers in rules:
            lines.append(pattern)
            lines += [f"  {name}: {value}" for name, value in headers]
        return "\n".join(lines) + "\n"

    def _header_rank(self, pattern: str) -> int:
        """Where a _headers rule goes: first those for the most requested files (HEADER_RANKS),
        then the others."""
        path = pattern.removeprefix(self.base_path) or "/"
        ranks = (rank for rank, test in enumerate(HEADER_RANKS) if test(path))
        return next(ranks, len(HEADER_RANKS))

    def redirects_file(self) -> str:
        base = self.base_path
        lines = ["# Generated by `feedsvc build`: redirects and rewrites for Netlify."]
        paged = sorted({urlsplit(e.url).path for e in self.files if PAGE_QUERY in e.url})
        for path in paged:
            target = file_path(path + "?page=1").rsplit("/", 1)[0]
            lines.append(f"{base}{path} page=:page {base}/{target}/:page.html 200!")
        # A rule with a query comes before the same path's plain one: the first match wins.
        # Forced (!) on a path that is also a file (the front page), or the file would win.
        ordered = sorted(self.redirects, key=lambda e: not urlsplit(e.url).query)
        for entry in ordered:
            parts = urlsplit(entry.url)
            location = self._in_site(dict(entry.headers)["Location"])
            if parts.query:
                force = "!" if parts.path == "/" else ""
                query = " ".join(f"{k}={v}" for k, v in parse_qsl(parts.query))
                lines.append(f"{base}{parts.path} {query} {location} {entry.status}{force}")
            else:
                lines.append(f"{base}{entry.url} {location} {entry.status}")
        # An article's former pages (a headline edit changed its slug), which readers, feed
        # readers and other sites keep links to, before the short addresses: Cloudflare Pages
        # reads the first 2,000 static redirects, and there is a short address per article. A
        # rule per page, not /articles/<id>/*: on a host that did not count <slug>.html as
        # shadowing that rule, the article's page would redirect to itself.
        for former, page in self.former_pages.items():
            lines.append(f"{base}{former} {base}{page} 301")
        for entry in self.files:
            if ARTICLE_URL.fullmatch(entry.url):
                article = "/".join(entry.url.split("/")[:3])
                lines.append(f"{base}{article} {base}{entry.url} 301")
        return "\n".join(lines) + "\n"

    def _in_site(self, location: str) -> str:
        """``location`` as a path when it is an address of the site (``/news/feed.atom`` for
        ``http://host/news/feed.atom``), else as it is. Cloudflare Pages refuses a destination
        that is neither a path nor https (its _redirects parser), and a path keeps a deploy
        preview's visitor on the preview's host."""
        parts, site = urlsplit(location), urlsplit(self.site_url)
        if parts[:2] != site[:2] or not (parts.path + "/").startswith(self.base_path + "/"):
            return location
        return urlunsplit(("", "", parts.path, parts.query, parts.fragment))


def _most_common(pairs: list[tuple[str, str]]) -> str:
    return Counter(value for _, value in pairs).most_common(1)[0][0]


def _compress(
    leaves: dict[str, tuple[tuple[str, str], ...]],
) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """Rules covering every path exactly once: ``/folder/*`` where everything below a folder
    that is not itself a URL shares one set of headers, exact paths elsewhere."""
    below: dict[str, set] = {}
    for path, headers in leaves.items():
        folder = path
        while folder not in ("", "/"):
            folder = folder.rsplit("/", 1)[0]
            below.setdefault(folder or "/", set()).add(headers)
    rules = []
    covered: set[str] = set()
    for path in sorted(leaves):
        folders = []
        folder = path
        while folder not in ("", "/"):
            folder = folder.rsplit("/", 1)[0]
            folders.append(folder)
        # The outermost folder that is uniform below and not a URL itself takes the path.
        chosen = next(
            (f for f in reversed(folders) if f and len(below[f]) == 1 and f not in leaves),
            None,
        )
        if chosen is None:
            rules.append((path, leaves[path]))
        elif chosen not in covered:
            covered.add(chosen)
            rules.append((f"{chosen}/*", leaves[path]))
    return rules


def _add_headers(headers: Iterable[tuple[str, str]]) -> list[str]:
    """add_header lines for a redirect: what the app sent with it, and only that. A block with
    an add_header of its own inherits none of the server's (which describe files); an empty
    value is sent by nobody but still stops the inheritance."""
    kept = list(_redirect_headers(headers))
    return [f"add_header {k} {_quote(v)} always;" for k, v in kept or [("X-Feedsvc-None", "")]]


def _redirect_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """``headers`` but those nginx writes itself for a ``return``."""
    return tuple((k, v) for k, v in headers if k not in ("Location", "Content-Type"))


def _moved_lines(
    moved: dict[tuple[tuple[str, str], ...], str],
    headers: Iterable[tuple[str, str]],
    status: int,
) -> list[str]:
    """The lines of a block that redirects with ``headers`` (see nginx_server's note on the
    @feedsvc_moved locations). An error_page of its own hides the server's: the 404 page
    is named again."""
    return [f"error_page {status} {moved[_redirect_headers(headers)]};", NOT_FOUND_PAGE]


def _location(entry: Entry) -> str:
    """The Location of a redirect as nginx returns it. One whose Vary names the navigation
    headers leads a browser's navigation to its target's preview (web._archive_moved), which
    is the target's address plus PREVIEW_SUFFIX (channels.preview_path): $feedsvc_preview is
    that suffix for a navigation to an address with a previewed extension, else empty."""
    headers = dict(entry.headers)
    location = _quote(headers["Location"])
    vary = {name.strip().lower() for name in headers.get("Vary", "").split(",")}
    if {name.lower() for name in NAVIGATION} <= vary:
        location = location[:-1] + '${feedsvc_preview}"'
    return location


def _navigation_source() -> str:
    """The nginx string a navigation is told by: the request headers of a navigation, each
    followed by a colon: "$http_a:$http_b:" ("::" without them)."""
    return '"' + "".join(f"$http_{name.lower().replace('-', '_')}:" for name in NAVIGATION) + '"'


def _navigation_value() -> str:
    """A regular expression for _navigation_source's value when it asks for a preview.

    With _previewed_path, the same test as the one expression nginx tried before on
    "$http_a:$http_b:$uri", ``^document:navigate:.*[.](rss|atom|json|opml)$``: headers hold
    no line feed, and a path with one before its extension was no navigation's."""
    return "~^" + "".join(f"{re.escape(value)}:" for value in NAVIGATION.values())


def _previewed_path() -> str:
    """A regular expression for a path with a previewed extension (channels.PREVIEWED_SUFFIXES):
    no line feed before it, as ``.`` matches none (see _navigation_value)."""
    extensions = "|".join(re.escape(suffix.removeprefix(".")) for suffix in PREVIEWED_SUFFIXES)
    return f"~^[^\\n]*[.]({extensions})$"


def _not_a_preview() -> str:
    """A regular expression for a path ending in .html but a feed's preview: what was two
    expressions tried in turn (a preview's path, else any .html) as one lookbehind."""
    previews = "|".join(
        f"[.]{re.escape(suffix.removeprefix('.'))}" for suffix in PREVIEWED_SUFFIXES
    )
    return f"~(?<!{previews})[.]{re.escape(PREVIEW_SUFFIX.removeprefix('.'))}$"


def _preview_address() -> str:
    """An nginx regular expression for the path of a feed's preview (channels.preview_path)."""
    extensions = "|".join(re.escape(suffix.removeprefix(".")) for suffix in PREVIEWED_SUFFIXES)
    return f"~[.]({extensions}){re.escape(PREVIEW_SUFFIX)}$"


def _variable(header: str, articles: bool = False) -> str:
    return f"$feedsvc_{'article_' if articles else ''}" + re.sub(r"[^a-z0-9]", "_", header.lower())


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" if line else line for line in text.split("\n"))


def _key(text: str) -> str:
    """A literal nginx string (map keys are never interpolated)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quote(text: str) -> str:
    """An nginx string whose variables would be interpolated: a literal $ is $feedsvc_dollar."""
    return _key(text).replace("$", "${feedsvc_dollar}")


def _power_of_two(n: int) -> int:
    return 1 << (n - 1).bit_length()
