"""Item identity: canonical URLs and stable keys, shared by every source and by select.

The key is what "never send an item twice" rests on, so it prefers what survives across
sources and feed rewrites: the canonical URL, then the feed's GUID, then a content hash
(the fallback order rss2email learned the hard way).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .text import href_text
from .urls import browser_url, is_plain

# Query parameters that say how a reader arrived, not what the page is.
TRACKING_PARAMS = {
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "yclid",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "xtor",
    "at_medium",
    "at_campaign",
    "ref_src",
}
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "at_")


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


# An http(s) URL with a lower-case plain host and no port, query or fragment, in plain
# ASCII (nothing browser_url would encode): canonical already, but for the "/" of an empty
# path. Most feed links are like this.
_CANONICAL = re.compile(r"https?://[a-z0-9.\-]+(/[!$-&(-;=@-\[\]-_a-z|~]*)?\Z")


@lru_cache(maxsize=1 << 16)  # select asks again for the URLs the sources keyed items by
def canonical_url(url: str) -> str:
    """Scheme and host lower-cased, default port, tracking parameters and fragment dropped."""
    url = url.strip()
    plain = _CANONICAL.match(url)
    if plain:
        return url if plain[1] else url + "/"
    return _canonical(url)


def _canonical(url: str) -> str:
    # The URL as digest.text.http_url writes it (punycode for lookalikes, ASCII, no
    # backslash), so that the URL an overrides file names and the item's own URL give the
    # same key.
    if not is_plain(url):
        url = browser_url(href_text(url)) or url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # "http://[x/", "host:abc": nothing to normalise, and no crash
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def strip_tracking(url: str) -> str:
    """`url` without tracking parameters; everything else (fragment included) kept."""
    if "?" not in url:
        return url
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not _is_tracking(k)]
    if len(kept) == len(pairs):
        return url
    return urlunsplit(parts._replace(query=urlencode(kept)))


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]


def item_key(url: str | None, guid: str | None, source: str, title: str, text: str) -> str:
    """A stable key: from the canonical URL, else the GUID, else the content."""
    if url:
        return "u" + _digest(canonical_url(url))
    if guid:
        return "g" + _digest(source, guid.strip())
    return "h" + _digest(source, title, text)
