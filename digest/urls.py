"""Every URL function in one place: URLs as a browser reads them, written back so that what a
reader sees is where it leads; links made absolute and safe; canonical URLs for dedupe keys.

Shared by digest.text (every link and image that reaches a subscriber), digest.identity
(dedupe keys) and delivery (links in emails), so that all see the same URL. Callers let
plain ASCII URLs through with a cheap check first; only the rare others come here.

Paths, queries and fragments are written in ASCII as a browser sends them (WHATWG URL):
`\\` is `/` before the query, non-ASCII and unsafe characters are percent-encoded, an
existing `%XX` is kept. Why: MRML, the email's compiler, rewrites a backslash or an
ideographic space in an attribute Rust-style (`\\\\`, `\\u{3000}`), and a mail client's
plain-text linkifier stops at a space or a quote.

Hosts: a label in another script, or mixing scripts (`cerdd.οrg` with a Greek omicron), is
written in punycode (`cerdd.xn--rg-ibc`), as browsers do, so it cannot pass for the name it
imitates. A label whose only non-ASCII characters are accented Latin letters (`énergie`)
stays readable: the accent is visible, and French readers should see their own words.
"""

from __future__ import annotations

import re
import unicodedata
from encodings.idna import ToASCII  # the standard library's IDNA 2003: no new dependency
from functools import lru_cache
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from .chars import remove_control_chars

# The full stops that IDNA (and browsers) split host names on: `cerdd。org` is `cerdd.org`.
_DOTS = re.compile("[.\u3002\uff0e\uff61]")

# Non-ASCII letters a label may keep: the lower-case letters of Latin-1 Supplement and
# Latin Extended-A (é, è, à, ç, œ, ß, ñ, ø...), which a reader sees as accented. Left out:
# the dotless ı and the kra ĸ, which pass for i and k, and letters that IDNA would fold
# into others (ſ is s, ĳ is ij, ŀ is l·); those labels become punycode.
_READABLE = frozenset(
    c
    for c in map(chr, range(0xC0, 0x180))
    if c.islower() and unicodedata.normalize("NFKC", c) == c and c not in "ıĸ"
)


def readable_host(host: str) -> str:
    """`host` with each label that could pass for another in punycode (see the module's
    docstring); UnicodeError when a label cannot be encoded (too long, bad bidi...)."""
    if host.isascii():
        return host
    return ".".join(_label(label) for label in _DOTS.split(host))


def _label(label: str) -> str:
    if label.isascii():
        return label
    label = unicodedata.normalize("NFC", label).lower()
    encoded = str(ToASCII(label), "ascii")  # raises for what DNS cannot carry, kept or not
    return label if all(c.isascii() or c in _READABLE for c in label) else encoded


def browser_url(url: str) -> str | None:
    """The absolute `url` as a browser writes it: the host as `readable_host` does, the
    rest percent-encoded where not plain ASCII (see the module's docstring); None when the
    host cannot be encoded, as a browser would refuse it. Writing it twice changes nothing."""
    if is_plain(url):
        return url  # most URLs: two C-level scans instead of three quote() calls
    rest, hash_, fragment = url.partition("#")
    rest, mark, query = rest.partition("?")
    scheme, separator, rest = rest.partition("://")
    if not separator:
        return url
    netloc, slash, path = rest.partition("/")
    try:
        head = f"{scheme}://{_netloc(netloc)}{slash}{quote(path, _PATH_SAFE)}"
        return f"{head}{mark}{quote(query, _QUERY_SAFE)}{hash_}{quote(fragment, _FRAGMENT_SAFE)}"
    except UnicodeError:  # a label IDNA refuses; a lone surrogate quote() cannot encode
        return None


# What each part keeps as is, besides letters, digits and "_.-~": WHATWG's percent-encode
# sets for http(s), plus the backslash, which only MRML minds but MRML does mind.
_PATH_SAFE = "!$%&'()*+,/:;=@[]^|"
_QUERY_SAFE = "!$%&()*+,/:;=?@[]^`{|}"
_FRAGMENT_SAFE = "!#$%&'()*+,/:;=?@[]^{|}"
# A character that one of the three sets may encode: controls, space " ' < > \ ` { }.
_TO_WRITE = re.compile(r"[^!#-&(-;=?-\[\]-_a-z|~]")


def is_plain(url: str) -> bool:
    """True when neither a browser nor `browser_url` would change a character of `url`:
    printable ASCII only, and none that one of the three parts may percent-encode."""
    return url.isascii() and not _TO_WRITE.search(url)


def _netloc(netloc: str) -> str:
    if netloc.isascii():
        return netloc
    userinfo, at, host_port = netloc.rpartition("@")
    host, colon, port = host_port.partition(":")  # a non-ASCII host is never an [IPv6]
    return f"{userinfo}{at}{readable_host(host)}{colon}{port}"


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def backslashes_as_slashes(reference: str) -> str:
    """`reference` with `\\` read as `/` before its query, as browsers read an http(s) URL
    or a reference relative to one: `https://x.org\\@evil.org/` is on x.org, not evil.org."""
    scheme = _SCHEME.match(reference)
    if scheme and scheme[0][:-1].lower() not in ("http", "https"):
        return reference  # mailto:, javascript:...: not a URL a browser reads that way
    end = min((i for i in map(reference.find, "?#") if i >= 0), default=len(reference))
    return reference[:end].replace("\\", "/") + reference[end:]


LINK_SCHEMES = {"http", "https", "mailto"}


IMAGE_SCHEMES = {"http", "https"}


def http_url(value: str | None, base: str | None = None) -> str | None:
    """`value` made absolute against `base` and written as a browser would (digest.urls:
    punycode for a lookalike host, ASCII for the rest), or None unless it is an http(s) URL
    with a host a browser accepts, a numeric port if any, and no user or password."""
    if not value:
        return None
    value = href_text(value)
    try:
        absolute = join_url(base, value)
        if PLAIN_ABSOLUTE.match(absolute):
            return absolute  # what the checks below would accept, without parsing it
        return web_url(absolute)
    except ValueError:  # "http://[x/": urllib refuses it, so do we
        return None


def href_text(value: str) -> str:
    """A link as a browser reads it (WHATWG URL parsing): ASCII tabs and newlines vanish
    rather than become spaces, so `JAVA&#x09;SCRIPT:` is `javascript:` and refused as such,
    not a relative path; other control characters go too, spaces around it as well; and in
    an http(s) or relative link a backslash before the query is a slash."""
    if "\t" in value or "\n" in value or "\r" in value:  # three scans beat one regex sub
        value = _TAB_NEWLINE.sub("", value)
    value = remove_control_chars(value).strip()
    return backslashes_as_slashes(value) if "\\" in value else value


_TAB_NEWLINE = re.compile("[\t\n\r]")


def web_url(absolute: str) -> str | None:
    """`absolute` as it may reach a reader, or None unless it is http(s) with a host, a
    numeric port and no user or password; ValueError when urllib cannot split it.

    Why no credentials: `https://www.cerdd.org:443@evil.example/` shows the Cerdd's address
    and leads to evil.example; no partner link needs a password in it.
    """
    parts = urlsplit(absolute)
    host = parts.hostname
    if parts.scheme.lower() not in ("http", "https") or not host or _NOT_IN_HOSTS.search(host):
        return None
    parts.port  # noqa: B018  # raises ValueError for "host:abc" or a port > 65535
    return None if "@" in parts.netloc else browser_url(absolute)


# What WHATWG forbids in a host name: a browser refuses the URL (urllib does not), and a
# space or a quote there would end the link early in the text part. '%' too: a browser
# decodes it in a host, which could hide a lookalike from the punycode check.
_NOT_IN_HOSTS = re.compile(r'[\x00-\x20"#%/<>?@\\^|\x7f]')


# URLs that urljoin would return unchanged (an http(s) scheme, a plain host, no port, no
# spaces or backslashes), and paths from the root it would only prefix with the
# base's scheme and host. Dot segments, empty ';', '?' or '#' parts (urljoin drops them)
# and '//' in a path (it folds them) take urljoin's own, exact path. PLAIN_ABSOLUTE also
# says that browser_url would not change the URL: ASCII only, and none of the characters
# it percent-encodes (space " ' < > \ ` { }).
PLAIN_ABSOLUTE = re.compile(r"https?://[A-Za-z0-9.\-]+(?:[/?#][!#-&(-;=?-\[\]-_a-z|~]*)?\Z")


_PLAIN_ROOTED = re.compile(r"/(?![/\\])[^\s\\]*\Z")


_NEEDS_URLJOIN = re.compile(r"/\.|[;?#](?=[;?#]|\Z)")


def join_url(base: str | None, value: str) -> str:
    """urljoin(base, value), without its cost in the common cases.

    Why: a feed item carries several links and images; parsing each twice in urllib was a
    tenth of the CPU of reading a feed. `tests/test_core.py` checks the shortcuts against
    urljoin itself.
    """
    if not _NEEDS_URLJOIN.search(value):
        if PLAIN_ABSOLUTE.match(value):
            return value
        if base and "//" not in value and _PLAIN_ROOTED.match(value):
            origin = _origin(base)
            if origin:
                return origin + value
    return urljoin(base, value) if base else value


@lru_cache(maxsize=1024)
def _origin(base: str) -> str | None:
    """'scheme://host[:port]' of an http(s) base URL, as urljoin would write it."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def link_filter(base: str | None):  # type: ignore[no-untyped-def]
    """An nh3 attribute filter that makes links absolute and drops the unsafe ones, the
    src of known tracker images (digest.text then drops the image), and unwraps redirects."""

    def keep(element: str, attribute: str, value: str) -> str | None:
        if attribute not in ("href", "src"):
            return value
        try:
            absolute = join_url(base, href_text(value))
            if element == "img" and is_tracker_image(absolute):
                return None
            if element == "a" and _REDIRECTOR.match(absolute):
                absolute = unwrap_redirect(absolute)
            if PLAIN_ABSOLUTE.match(absolute):
                return absolute  # http(s): allowed for links and images alike
            scheme = urlsplit(absolute).scheme.lower()
            if scheme in IMAGE_SCHEMES:  # http(s), for links and images alike
                return web_url(absolute)
        except ValueError:  # "http://[x/" (here or in the base): no link rather than a crash
            return None
        return absolute if element != "img" and scheme in LINK_SCHEMES else None

    return keep


# Images that are never an item's picture, with why. A "tracker" is also removed from every
# summary: it shows nothing a reader wants and tells a third party who opened the email.
# The others (avatars, emoji, smileys) stay in the text, where they mean something.
# Each row: a host (its sub-domains too; "" for any host), a path prefix (for any host: a
# part of the path), the kind, and why.
IMAGE_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("stats.wordpress.com", "/", "tracker", "WordPress.com view counter (b.gif), often sizeless"),
    ("pixel.wp.com", "/", "tracker", "Jetpack's view counter pixel"),
    ("pixel.quantserve.com", "/", "tracker", "Quantcast audience pixel"),
    ("feeds.feedburner.com", "/~r/", "tracker", "FeedBurner per-item view pixel (.../~4/...)"),
    ("feedproxy.google.com", "/~r/", "tracker", "the same pixel on FeedBurner's Google host"),
    ("feeds.feedburner.com", "/~ff/", "tracker", "FeedFlare: share and count buttons"),
    ("feeds.feedburner.com", "/~f/", "tracker", "FeedBurner's older share buttons"),
    ("doubleclick.net", "/", "tracker", "Google's ad server (FeedBurner ads: feedads.g...)"),
    ("googlesyndication.com", "/", "tracker", "AdSense ads"),
    ("feeds.wordpress.com", "/1.0/", "tracker", "WordPress.com comment and share badges"),
    ("digg.com", "/", "tracker", "Digg badges ('digg this')"),
    ("gravatar.com", "/avatar/", "not a picture", "an author's or commenter's avatar"),
    ("s.w.org", "/images/core/emoji/", "not a picture", "WordPress emoji as images"),
    ("", "/wp-includes/images/smilies/", "not a picture", "WordPress smileys"),
)


def _image_pattern(kinds: tuple[str, ...]) -> re.Pattern[str]:
    rows = (
        (rf"(?:[^/?#@]*\.)?{re.escape(host)}(?::\d+)?{re.escape(path)}" if host else
         rf"[^/?#]+/(?:[^?#]*/)?{re.escape(path.lstrip('/'))}")
        for host, path, kind, _why in IMAGE_RULES
        if kind in kinds
    )  # fmt: skip
    return re.compile(rf"https?://(?:{'|'.join(rows)})", re.I)


_TRACKER_IMAGE = _image_pattern(("tracker",))
_NOT_A_PICTURE = _image_pattern(("tracker", "not a picture"))


def is_tracker_image(url: str) -> bool:
    """True when the absolute `url` is a known tracker, ad or badge image (IMAGE_RULES)."""
    return _TRACKER_IMAGE.match(url) is not None


def is_not_a_picture(url: str) -> bool:
    """True when the absolute `url` is a known image that never illustrates an item."""
    return _NOT_A_PICTURE.match(url) is not None


# Redirectors that carry their target in a query parameter: Google Alerts items link to
# `https://www.google.com/url?rct=j&sa=t&url=<target>&ct=ga&usg=...`.
_REDIRECTOR = re.compile(r"https?://(?:www\.)?google\.[a-z]{2,3}(?:\.[a-z]{2})?/url\?", re.I)


def unwrap_redirect(url: str) -> str:
    """The target of a known redirect link when it is an http(s) URL, else `url` itself."""
    if not _REDIRECTOR.match(url):
        return url
    query = dict(parse_qsl(urlsplit(url).query))
    target = query.get("url") or query.get("q") or ""
    return target if re.match(r"https?://", target, re.I) else url


# FeedBurner's click-counting redirects; the entry's feedburner:origLink is the real link.
_FEEDBURNER_PROXY = re.compile(
    r"https?://(?:feedproxy\.google\.com|feeds\.feedburner\.com)/~r/", re.I
)


def is_feedburner_redirect(url: str) -> bool:
    """True when `url` is FeedBurner's redirect to an item (`feedproxy.google.com/~r/...`)."""
    return _FEEDBURNER_PROXY.match(url) is not None


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
    "wt_mc",  # Webtrekk campaigns (heise: ?wt_mc=rss.ho.beitrag.atom)
    "wt_zmc",
}


TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "at_")


def _is_tracking(name: str, value: str) -> bool:
    lowered = name.lower()
    if lowered == "source":  # a real parameter of some sites; Medium's feeds say "rss-<id>"
        return value.lower().startswith("rss")
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


# An http(s) URL with a lower-case plain host and no port, query or fragment, in plain
# ASCII (nothing browser_url would encode): canonical already, but for the "/" of an empty
# path. Most feed links are like this.
_CANONICAL = re.compile(r"https?://[a-z0-9.\-]+(/[!$-&(-;=@-\[\]-_a-z|~]*)?\Z")


@lru_cache(maxsize=1 << 16)  # select asks again for the URLs the sources keyed items by
def canonical_url(url: str, keep_fragment: bool = False) -> str:
    """Scheme and host lower-cased, default port, tracking parameters and fragment dropped.

    With `keep_fragment`, a non-empty `#fragment` stays (written as a browser writes it):
    on a linkblog's day page (`2017/06/26.html#a080605`) it names one post (digest.identity).
    """
    url = url.strip()
    if keep_fragment:
        written = url if is_plain(url) else browser_url(href_text(url)) or url
        head, _, fragment = written.partition("#")
        return canonical_url(head) + ("#" + fragment if fragment else "")
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
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k, v)
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def strip_tracking(url: str) -> str:
    """`url` without tracking parameters; everything else (fragment included) kept."""
    if "?" not in url:
        return url
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not _is_tracking(k, v)]
    if len(kept) == len(pairs):
        return url
    return urlunsplit(parts._replace(query=urlencode(kept)))
