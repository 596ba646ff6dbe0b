"""The per-subscriber placeholders of the email, and how content is kept from faking them.

Delivery replaces each placeholder in the HTML and text parts with that subscriber's link.
Placeholders are `%%name%%`: no character in them is changed by HTML escaping, MJML or URL
handling. So that no feed can smuggle one in, every `%%` in content is broken up before it
reaches a template (text: a zero-width space; URLs: `%25`, which is what a browser sends).
"""

from __future__ import annotations

import re

PLACEHOLDERS: dict[str, str] = {
    # The subscriber's own unsubscribe page (signed token); RFC 8058 one-click lives in the
    # headers, this is the visible footer link.
    "unsubscribe_url": "%%unsubscribe_url%%",
    # The subscriber's preference page (themes, name, pause), a token of its own: not the
    # unsubscribe token, so that one can never serve as the other.
    "preferences_url": "%%preferences_url%%",
    # The "view in your browser" link: the archive page of the issue.
    "view_url": "%%view_url%%",
}

_DOUBLE_PERCENT = re.compile(r"%(?=%)")


def neutral_text(text: str) -> str:
    """Text that cannot contain a placeholder: '%%' becomes '%\u200b%'."""
    return _DOUBLE_PERCENT.sub("%\u200b", text) if "%%" in text else text


def neutral_url(url: str) -> str:
    """A URL that cannot contain a placeholder: a stray '%' before '%' is encoded as %25."""
    return _DOUBLE_PERCENT.sub("%25", url) if "%%" in url else url
