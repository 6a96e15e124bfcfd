"""feedsvc: publish a folder of plain-text news documents as feeds and pages."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by the factory, so that the command starts quickly (and a
    # Ctrl-C as it starts is taken by __main__.py, not by an import of the package)
    from flask import Flask

    from . import config

from .version import __version__

__all__ = ["__version__", "create_app"]


def create_app(test_config: Mapping[str, Any] | config.Config | None = None) -> Flask:
    """The app factory. Settings come from ``test_config`` when given (overrides of the
    settings table, or settings already validated), else from FEEDSVC_* variables."""
    # Imported here so that importing the package stays cheap and cycle-free.
    from flask import Flask

    from . import config, pages, templating, web
    from .admission import RenderSlots
    from .assets import Assets
    from .changes import log_skipped
    from .channels import Channels
    from .feeds import Publication, ttl_minutes
    from .framing import Framing
    from .httpcache import FastPath, ResponseCache
    from .params import CacheKeys, FeedRequest, PathNumberConverter
    from .preview import NavigationPreviews
    from .security import SecurityHeaders, SecurityPolicy
    from .services import Services
    from .store import Store
    from .urls import Site, tag_authority
    from .watch import Watcher
    from .websub import Notifier

    if isinstance(test_config, config.Config):
        settings = test_config  # checked once by the command that starts the workers
    else:
        settings = config.load(config.from_environ() if test_config is None else test_config)
    # A service that watches its folder serves an index made by an earlier document parser
    # while its leader has it built again (renewal.py); without a watcher (a build's app), the
    # first refresh builds it again.
    store = Store(settings, renew=not settings.watch)
    # A worker never serves an empty site while the folder is full: without a complete index
    # (deleted while the service ran, and this worker just started), it builds one first, or
    # waits for the process already building it (the write lock).
    if not store.ready():
        logging.getLogger(__name__).info(
            # Not "missing": it may be one of an earlier parser (refresh says which, next).
            "the index %s cannot be served as it is; building it from %s first",
            settings.index_path, settings.seeds_dir,
        )  # fmt: skip
        log_skipped(store.refresh())
    site = Site(settings.site_url, tag_authority(settings.tag_authority, settings.site_url))
    cache = ResponseCache(store.version)
    assets = Assets()
    # A parameter whose only meaningful values are these is treated as absent with any other.
    choices = {**web.QUERY_CHOICES, "v": assets.versions()}
    cache_keys = CacheKeys(settings.max_limit, choices)
    services = Services(
        config=settings,
        store=store,
        site=site,
        channels=Channels(settings, store, site),
        publication=Publication(
            site, settings.title, settings.language, ttl_minutes(settings.cache_max_age)
        ),
        cache=cache,
        assets=assets,
        cache_keys=cache_keys,
    )
    # Static files are served by web.py (content-hashed URLs, the response cache), not Flask.
    app = Flask(__name__, static_folder=None)
    # Every template is escaped, whatever its extension: Flask escapes only .html, .xml and a
    # few more by default, and every template feedsvc has writes HTML or XML.
    app.jinja_options = {**app.jinja_options, "autoescape": True}
    # A doubled slash would otherwise be redirected to a URL built from the Host header.
    app.url_map.merge_slashes = False
    # One address per number: /sitemaps/1.xml, never /sitemaps/01.xml too (params.py).
    app.url_map.converters["int"] = PathNumberConverter
    app.request_class = FeedRequest
    app.config["FEEDSVC"] = settings
    app.extensions["feedsvc"] = services
    app.register_blueprint(web.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(templating.bp)
    # Many request threads render in turn (admission.py): none keeps an index connection, and
    # with it a page cache of its own, once its render is done.
    app.teardown_appcontext(lambda _error: store.close())
    # Outermost first: security headers on every response; requests HTTP refuses (framing.py);
    # navigations to a feed URL become requests for its preview before the cache is asked; the
    # cache; admission to Flask.
    fast_path = FastPath(app.wsgi_app, cache, cache_keys, RenderSlots())
    app.wsgi_app = SecurityHeaders(  # type: ignore[method-assign]
        Framing(NavigationPreviews(fast_path, app.url_map)), SecurityPolicy(settings.site_url)
    )
    if settings.watch:
        notifier = (
            Notifier(settings.websub_hub, site, settings.websub_refresh_url).start()
            if settings.websub_hub
            else None
        )
        app.extensions["feedsvc.watcher"] = Watcher(
            store, settings.poll_interval, on_change=notifier.publish if notifier else None
        ).start()
    return app
