"""The package as an operator installs it: a built wheel, in a fresh virtual environment.

Nothing of the working tree is importable there, so a template or static file missing from the
wheel, or a dependency missing from pyproject.toml, shows as an error here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import venv
from pathlib import Path

import pytest

from feedsvc import create_app
from feedsvc.channels import FORMATS

from .conftest import BUNDLED_SEEDS, ROOT, free_port, settings_for
from .test_serve import Serve, stop, wait_until_serving

pytestmark = pytest.mark.slow

SEED_ID = "5e300edb8a850530"
SEED_SLUG = "u-s-officials-travel-to-venezuela-a-russian-ally-for-talks"
STATIC = ROOT / "feedsvc" / "static"
# Routes that must answer 200 with the bundled seeds (the others may 404 for want of data), and
# every static file of the source tree, which the wheel must hold.
MUST_ANSWER = ["/", "/feed.rss", "/feed.atom", "/feed.json", "/feeds.opml", "/feeds.opml.html",
               "/sitemap.xml", "/news-sitemap.xml", f"/articles/{SEED_ID}/{SEED_SLUG}",
               "/sources/reuters", "/places/washington", "/search?q=venezuela",
               "/robots.txt", "/favicon.ico", "/feed.atom.html"]  # fmt: skip


def static_paths() -> list[str]:
    return [f"/static/{p.relative_to(STATIC)}" for p in sorted(STATIC.rglob("*")) if p.is_file()]


def samples(rule_text: str, name: str) -> list[object]:
    """Values for one URL argument, by its name and where it sits in the rule."""
    if name == "fmt":
        return list(FORMATS)
    if name == "slug":
        for folder, slug in (("/sources/", "reuters"), ("/places/", "washington"),
                             ("/articles/", SEED_SLUG)):  # fmt: skip
            if rule_text.startswith(folder):
                return [slug]
    if name == "name" and rule_text.startswith("/static/"):
        return [path.removeprefix("/static/") for path in static_paths()]
    if name in ("page", "part"):
        return [1]
    if name == "period":  # an archive period: a month, or a day of a month split by day
        return ["2022-03", "2022-03-06"]
    if name == "article_id":
        return [SEED_ID]
    raise AssertionError(f"no sample value for <{name}> in {rule_text}: add one to this test")


def every_route(tmp_path: Path) -> list[str]:
    """A URL for every rule of the app's URL map, with sample arguments."""
    app = create_app(settings_for(tmp_path, BUNDLED_SEEDS))
    adapter = app.url_map.bind("localhost")
    paths = []
    for rule in app.url_map.iter_rules():
        fixed = dict(rule.defaults or {})  # arguments the rule itself decides
        choices: list[dict[str, object]] = [fixed]
        for name in sorted(rule.arguments - set(fixed)):
            choices = [{**c, name: v} for c in choices for v in samples(rule.rule, name)]
        for values in choices:
            query = "?q=venezuela" if rule.rule.startswith("/search") else ""
            paths.append(adapter.build(rule.endpoint, values) + query)
    return sorted(set(paths))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel built from the working tree installed."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy, so that the build leaves nothing in the working tree
    shutil.copytree(
        ROOT, source, ignore=shutil.ignore_patterns(".*", "*.egg-info", "__pycache__", "build",
                                                      "tests", "benchmarks", "docs", "seeds")
    )  # fmt: skip
    wheels = work / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", wheels, source], check=True, timeout=600)
    env = work / "venv"
    venv.create(env, with_pip=True)
    (wheel,) = wheels.glob("feedsvc-*.whl")
    python = env / "bin" / "python"
    install = [python, "-m", "pip", "--disable-pip-version-check", "-q", "install", wheel]
    subprocess.run(install, check=True, timeout=600)
    return env


def test_the_wheel_serves_every_route(installed: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"  # not the repository: nothing to import by accident
    outside.mkdir()
    where = subprocess.run(
        [installed / "bin" / "python", "-c", "import feedsvc; print(feedsvc.__file__)"],
        cwd=outside,
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    ).stdout
    assert where.startswith(str(installed)), where

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.pop("PYTHONPATH", None)
    env["FEEDSVC_INDEX_PATH"] = str(outside / "index.sqlite3")
    log_path = outside / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [installed / "bin" / "feedsvc", "serve", BUNDLED_SEEDS, "--bind", f"127.0.0.1:{port}"],
            cwd=outside,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Serve(process, port, log_path)
    try:
        wait_until_serving(server)
        statuses = {}
        for path in every_route(tmp_path):
            try:
                with urllib.request.urlopen(server.url + path, timeout=10) as response:
                    statuses[path] = response.status
            except urllib.error.HTTPError as error:
                statuses[path] = error.code
    finally:
        stop(server)
    assert {p: s for p, s in statuses.items() if s >= 500} == {}, server.log()
    must = MUST_ANSWER + static_paths()
    assert {p: statuses.get(p) for p in must if statuses.get(p) != 200} == {}
    assert "Traceback" not in server.log()
