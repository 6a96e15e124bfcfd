"""What the web layer needs, built once per app by the factory and passed around explicitly."""

from __future__ import annotations

from dataclasses import dataclass

from .assets import Assets
from .channels import Channels
from .config import Config
from .feeds import Publication
from .httpcache import ResponseCache
from .params import CacheKeys
from .store import Store
from .urls import Site


@dataclass
class Services:
    config: Config
    store: Store
    site: Site
    channels: Channels
    publication: Publication
    cache: ResponseCache
    assets: Assets
    cache_keys: CacheKeys
