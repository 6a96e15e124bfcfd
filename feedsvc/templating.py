"""What templates may call: date filters, feed channels of an article, schema.org data."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from flask import Blueprint, current_app

from .document import Article
from .urls import Channel

bp = Blueprint("templating", __name__)


@bp.app_template_filter("display_date")
def display_date(moment: datetime, has_time: bool = True) -> str:
    text = f"{moment.day} {moment:%B %Y}"
    return f"{text}, {moment:%H:%M} {moment:%Z}".rstrip() if has_time else text


@bp.app_template_filter("w3c")
def w3c_date(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@bp.app_template_filter("rfc822")
def rfc822_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


@bp.app_context_processor
def template_helpers() -> dict[str, Any]:
    return {"channel": Channel, "article_channels": _article_channels, "json_ld": _json_ld}


def _article_channels(article: Article) -> list[tuple[Channel, str]]:
    found = [(Channel("main"), current_app.extensions["feedsvc"].config.title)]
    if article.agency_slug:
        found.append((Channel("source", article.agency_slug), article.agency))
    if article.city_slug:
        found.append((Channel("place", article.city_slug), article.city))
    return found


def _json_ld(article: Article) -> dict[str, Any]:
    svc = current_app.extensions["feedsvc"]
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.headline,
        "description": article.summary,
        "datePublished": w3c_date(article.published),
        "dateModified": w3c_date(article.last_change),
        "mainEntityOfPage": svc.site.permalink(article),
        "url": svc.site.permalink(article),
        "publisher": {"@type": "Organization", "name": svc.config.title},
        "articleBody": "\n\n".join(article.paragraphs),
    }
    if article.agency:
        data["author"] = {"@type": "Organization", "name": article.agency}
    if article.city:
        data["dateline"] = article.city
        data["contentLocation"] = {"@type": "Place", "name": article.city}
    return data
