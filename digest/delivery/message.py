"""The issue's email, built once and filled in per subscriber by joining bytes.

    build_template(config, issue_id, subject, html, text, now) -> MessageTemplate
    template.render(Recipient) -> bytes        one subscriber's message, ready for DATA

The static part (headers, MIME structure, both bodies in quoted-printable) is encoded once;
what differs per subscriber (To, Message-ID, List-Unsubscribe, the footer's unsubscribe
and preferences links) sits in slots between pre-encoded segments. Each link is QP-encoded
on its own and framed by QP soft line breaks (`=` CRLF, which decode to nothing), so no
encoded line can cut a link in two and the result is the same as encoding the substituted
text in one go.
Building a MIME tree per subscriber would cap a sender near 140 messages a second.
"""

from __future__ import annotations

import email.policy
import email.quoprimime
import html
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from urllib.parse import quote, urlsplit

from ..chars import remove_control_chars
from ..config import Config
from ..errors import DeliveryError, SettingError
from ..i18n import t
from ..render import PLACEHOLDERS

POLICY = email.policy.SMTP
# Characters kept as they are in a URL placed in a header or an attribute; anything else
# (space, quote, angle bracket, a stray CR/LF) is percent-encoded.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%-._~"
_SOFT_BREAK = b"=\r\n"
DKIM_HEADERS = (
    b"From", b"To", b"Subject", b"Date", b"Message-ID", b"List-Id",
    b"List-Unsubscribe", b"List-Unsubscribe-Post", b"MIME-Version", b"Content-Type",
)  # fmt: skip


@dataclass(frozen=True)
class Recipient:
    """What differs from one subscriber's message to the next."""

    email: str  # a normalised, bare ASCII address (digest.subscribers.normalise_email)
    message_id: str  # "<...@domain>"
    unsubscribe_url: str
    # The footer's link to the preference page: its own token, never the unsubscribe one.
    preferences_url: str


Slot = Callable[[Recipient], bytes]


@dataclass(frozen=True)
class MessageTemplate:
    """Pre-encoded segments and per-recipient slots, in order."""

    parts: tuple[bytes | Slot, ...]
    sender: str  # the envelope sender (Return-Path)
    sign: Callable[[bytes], bytes] | None = None

    def render(self, recipient: Recipient) -> bytes:
        data = b"".join(p if isinstance(p, bytes) else p(recipient) for p in self.parts)
        return self.sign(data) + data if self.sign else data


def clean_header(text: str) -> str:
    """One line of header text: no control characters, single spaces."""
    return " ".join(remove_control_chars(text).split())


def sender_address(config: Config) -> tuple[str, str]:
    """(display name, address) of newsletter.sender; SettingError if there is no address."""
    name, address = parseaddr(clean_header(config.newsletter.sender))
    if "@" not in address:
        raise SettingError(t("delivery.error.no_sender"), hint=t("delivery.error.no_sender_hint"))
    return name, address


def sender_domain(config: Config) -> str:
    return sender_address(config)[1].rpartition("@")[2].lower()


def view_url(config: Config, issue_id: str, cut: str = "") -> str:
    """The "view in browser" page: the issue in the archives; for a reader of a cut
    (render/cuts.py), the same page as their cut (`?cut=` the section ids, by commas)."""
    page = safe_url(f"{config.newsletter.base_url.rstrip('/')}/archives/{issue_id}/")
    return f"{page}?cut={quote(cut.replace(' ', ','), safe=',')}" if cut else page


def safe_url(url: str) -> str:
    return quote(url, safe=_URL_SAFE)


def list_id(config: Config) -> str:
    """`Title <lettre.example.org>` (RFC 2919): the site's host names the list."""
    host = (urlsplit(config.newsletter.base_url).hostname or "digest").lower()
    label = host if "." in host else f"{host}.localdomain"
    return formataddr((clean_header(config.newsletter.title), label))


def build_template(
    config: Config,
    issue_id: str,
    subject: str,
    html_body: str,
    text_body: str,
    now: datetime,
    *,
    test: bool = False,
    cut: str = "",
) -> MessageTemplate:
    """The message of an issue with its per-subscriber slots. `test` prefixes "[TEST] ";
    `cut` names the cut the bodies are (its "view in browser" link shows the same)."""
    name, address = sender_address(config)
    boundary = f"=_digest_{secrets.token_hex(12)}"  # "=_" never occurs in QP output
    headers = {
        "From": formataddr((name, address)),
        "Subject": ("[TEST] " if test else "") + clean_header(subject),
        "Date": format_datetime(now.astimezone(config.newsletter.tz)),
        "List-Id": list_id(config),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "MIME-Version": "1.0",
        "Content-Type": f'multipart/alternative; boundary="{boundary}"',
    }
    mailto = parseaddr(clean_header(config.delivery.unsubscribe_to))[1] or address
    view = view_url(config, issue_id, cut)
    parts: list[bytes | Slot] = [b"".join(_fold(k, v) for k, v in headers.items())]
    parts += [_to_header, _message_id_header, _unsubscribe_header(mailto), b"\r\n"]
    text_body = text_body.replace(PLACEHOLDERS["view_url"], view)
    html_body = html_body.replace(PLACEHOLDERS["view_url"], html.escape(view))
    # render folded the text part as format=flowed (render/flowed.py): phones rejoin it.
    parts += _body_part(boundary, "text/plain", text_body, _text_link, "; format=flowed")
    parts += _body_part(boundary, "text/html", html_body, _html_link)
    parts.append(f"--{boundary}--\r\n".encode())
    envelope = parseaddr(clean_header(config.delivery.return_path))[1] or address
    return MessageTemplate(tuple(_merge(parts)), envelope, _signer(config, address))


def _fold(name: str, value: str) -> bytes:
    """One header, RFC 2047-encoded where it is not ASCII and folded, as email does it."""
    header_name, header = POLICY.header_store_parse(name, value)
    return POLICY.fold_binary(header_name, header)


def _to_header(recipient: Recipient) -> bytes:
    return b"To: " + _header_safe(recipient.email) + b"\r\n"


def _message_id_header(recipient: Recipient) -> bytes:
    return b"Message-ID: " + _header_safe(recipient.message_id) + b"\r\n"


def _unsubscribe_header(mailto_address: str) -> Slot:
    """The https link (one click) and a mailto whose subject carries the same signed token,
    so that `digest subscribers unsubscribe-mail` can act on the email without trusting
    its From: (which anyone can write)."""
    mailto = f"mailto:{mailto_address}?subject=unsubscribe%20"

    def header(recipient: Recipient) -> bytes:
        url = safe_url(recipient.unsubscribe_url)
        token = url.rsplit("/", 1)[-1]
        return f"List-Unsubscribe: <{url}>,\r\n <{safe_url(mailto + token)}>\r\n".encode()

    return header


def _header_safe(value: str) -> bytes:
    """Refuse what could break out of a header line (defence in depth: inputs are checked)."""
    if not value.isascii() or any(c in value for c in "\r\n\0 "):
        raise DeliveryError(f"refusing an unsafe header value {value!r}")
    return value.encode()


# The body's per-subscriber links: placeholder name -> the Recipient field that fills it.
_LINKS = {"unsubscribe_url": "unsubscribe_url", "preferences_url": "preferences_url"}
_LINK_PLACEHOLDERS = re.compile("|".join(re.escape(PLACEHOLDERS[name]) for name in _LINKS))
_BY_PLACEHOLDER = {PLACEHOLDERS[name]: field for name, field in _LINKS.items()}
Link = Callable[[str], Slot]  # a Recipient field's name -> the slot writing it in a body


def _text_link(field: str) -> Slot:
    def link(recipient: Recipient) -> bytes:
        return _qp(safe_url(getattr(recipient, field)))

    return link


def _html_link(field: str) -> Slot:
    def link(recipient: Recipient) -> bytes:
        return _qp(html.escape(safe_url(getattr(recipient, field))))

    return link


def _body_part(
    boundary: str, kind: str, body: str, link: Link, extra: str = ""
) -> list[bytes | Slot]:
    head = (
        f'--{boundary}\r\nContent-Type: {kind}; charset="utf-8"{extra}\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode()
    parts: list[bytes | Slot] = [head]
    start = 0
    for found in _LINK_PLACEHOLDERS.finditer(body):
        parts.append(_qp_text(body[start : found.start()]))
        parts += [_SOFT_BREAK, link(_BY_PLACEHOLDER[found.group()]), _SOFT_BREAK]
        start = found.end()
    parts += [_qp_text(body[start:]), b"\r\n"]
    return parts


def _qp_text(text: str) -> bytes:
    """UTF-8 text in quoted-printable, CRLF line ends, lines of 76 at most."""
    # quoprimime encodes code points below 256 as one byte each: hand it the UTF-8 bytes.
    latin = text.encode("utf-8").decode("latin-1")
    return email.quoprimime.body_encode(latin, eol="\r\n").encode("ascii")


def _qp(text: str) -> bytes:
    return email.quoprimime.body_encode(text, eol="\r\n").encode("ascii")


def _merge(parts: list[bytes | Slot]) -> list[bytes | Slot]:
    """Adjacent static segments joined: fewer pieces to join per subscriber."""
    merged: list[bytes | Slot] = []
    for part in parts:
        if isinstance(part, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] += part
        else:
            merged.append(part)
    return merged


def _signer(config: Config, address: str) -> Callable[[bytes], bytes] | None:
    """DKIM signing with delivery.dkim_key and dkim_selector, when both are set."""
    settings = config.delivery
    if settings.dkim_key is None or not settings.dkim_selector:
        return None
    import dkim  # only needed when signing

    key = _read_key(settings.dkim_key)
    selector = settings.dkim_selector.encode()
    domain = (settings.dkim_domain or address.rpartition("@")[2]).lower().encode()

    def sign(data: bytes) -> bytes:
        signature: bytes = dkim.sign(
            data,
            selector,
            domain,
            key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=list(DKIM_HEADERS),
        )
        return signature

    return sign


def _read_key(path: Path) -> bytes:
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise SettingError(
            t("delivery.error.dkim_unreadable", path=path, error=exc.strerror or exc),
            hint=t("delivery.error.dkim_unreadable_hint"),
        ) from exc
    if not re.search(rb"-----BEGIN (RSA )?PRIVATE KEY-----", key):
        raise SettingError(
            t("delivery.error.dkim_not_pem", path=path), hint=t("delivery.error.dkim_not_pem_hint")
        )
    return key
