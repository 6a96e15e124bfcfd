"""The regular expressions of the generated nginx configuration, without nginx (Python's re
reads them as PCRE does: ``.`` matches no line feed, ``$`` matches before a final one)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc import staticconf

# The one expression nginx tried on "$http_sec_fetch_dest:$http_sec_fetch_mode:$uri" before
# the test was split into the headers' part and the path's (commit "nginx: ... hash lookups").
ONE_EXPRESSION = r"^document:navigate:.*[.](rss|atom|json|opml)$"

PIECES = ["document", "navigate", "Document", ":", ".", "rss", "atom", "opml", "html", "/", "x"]
# Request headers hold no line feed (nginx refuses one); a path may, percent-encoded.
header = st.one_of(
    st.sampled_from(["document", "navigate", ""]), st.lists(st.sampled_from(PIECES)).map("".join)
)
path = st.lists(st.sampled_from([*PIECES, "\n"])).map(lambda parts: "/" + "".join(parts))


@settings(max_examples=3000)
@given(dest=header, mode=header, uri=path)
def test_the_split_navigation_test_decides_as_the_one_expression_did(
    dest: str, mode: str, uri: str
) -> None:
    headers = re.search(staticconf._navigation_value()[1:], f"{dest}:{mode}:")
    extension = re.search(staticconf._previewed_path()[1:], uri)
    before = re.search(ONE_EXPRESSION, f"{dest}:{mode}:{uri}")
    assert bool(headers and extension) == bool(before)


def test_navigation_without_its_headers_is_a_hash_lookup() -> None:
    # The map's exact key for a request without the headers (feed readers send none).
    assert staticconf._navigation_source() == '"$http_sec_fetch_dest:$http_sec_fetch_mode:"'
