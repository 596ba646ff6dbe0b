"""URLs as a browser reads them, written back so that what a reader sees is where it leads.

Shared by digest.text (every link and image that reaches a subscriber) and digest.identity
(dedupe keys), so that both see the same URL. Callers let plain ASCII URLs through with a
cheap check first; only the rare others come here.

Hosts: a label in another script, or mixing scripts (`cerdd.οrg` with a Greek omicron), is
written in punycode (`cerdd.xn--rg-ibc`), as browsers do, so it cannot pass for the name it
imitates. A label whose only non-ASCII characters are accented Latin letters (`énergie`)
stays readable: the accent is visible, and French readers should see their own words.
"""

from __future__ import annotations

import re
import unicodedata
from encodings.idna import ToASCII  # the standard library's IDNA 2003: no new dependency

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
    """The absolute `url` with a host a reader can trust (`readable_host`); None when its
    host cannot be encoded, as a browser would refuse it."""
    scheme, separator, rest = url.partition("://")
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    netloc = rest[:end]
    if not separator or netloc.isascii():
        return url
    userinfo, at, host_port = netloc.rpartition("@")
    host, colon, port = host_port.partition(":")  # a non-ASCII host is never an [IPv6]
    try:
        host = readable_host(host)
    except UnicodeError:
        return None
    return f"{scheme}://{userinfo}{at}{host}{colon}{port}{rest[end:]}"
