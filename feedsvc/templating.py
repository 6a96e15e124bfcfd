"""What templates may call: date filters, feed channels of an article, schema.org data."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from flask import Blueprint, current_app

from .channels import Channel, article_channels
from .dates import rfc3339
from .document import Article

bp = Blueprint("templating", __name__)


@bp.app_template_filter("display_date")
def display_date(moment: datetime, has_time: bool = True) -> str:
    text = f"{moment.day} {moment:%B %Y}"
    return f"{text}, {moment:%H:%M} {moment:%Z}".rstrip() if has_time else text


bp.add_app_template_filter(rfc3339, "w3c")


@bp.app_template_filter("rfc822")
def rfc822_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


@bp.app_context_processor
def template_helpers() -> dict[str, Any]:
    return {"channel": Channel, "article_channels": _article_channels, "json_ld": _json_ld}


def _article_channels(article: Article) -> list[tuple[Channel, str]]:
    """(channel, label) of every feed an article appears in, the site's own first."""
    found = [(Channel("main"), current_app.extensions["feedsvc"].config.title)]
    for channel in article_channels(article):
        assert channel.facet is not None
        found.append((channel, getattr(article, channel.facet.field)))
    return found


def _json_ld(article: Article) -> dict[str, Any]:
    svc = current_app.extensions["feedsvc"]
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.headline,
        "description": article.summary,
        "datePublished": rfc3339(article.published),
        "dateModified": rfc3339(article.last_change),
        "mainEntityOfPage": svc.site.permalink(article),
        "url": svc.site.permalink(article),
        "publisher": {"@type": "Organization", "name": svc.config.title},
        "articleBody": "\n\n".join(article.story),
    }
    if article.authors:
        data["author"] = [{"@type": "Person", "name": name} for name in article.authors]
    elif article.agency:
        data["author"] = {"@type": "Organization", "name": article.agency}
    if article.agency:
        # The agency the writers filed for: schema.org's sourceOrganization.
        data["sourceOrganization"] = {"@type": "Organization", "name": article.agency}
    if article.city:
        data["dateline"] = article.city
        data["contentLocation"] = {"@type": "Place", "name": article.city}
    return data
