"""URLs as a browser reads them, written back so that what a reader sees is where it leads.

Shared by digest.text (every link and image that reaches a subscriber) and digest.identity
(dedupe keys), so that both see the same URL. Callers let plain ASCII URLs through with a
cheap check first; only the rare others come here.

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
from urllib.parse import quote

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
