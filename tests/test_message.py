"""The message built once and filled per subscriber: headers, structure, encoding, DKIM."""

from __future__ import annotations

import base64
import subprocess
from dataclasses import replace
from pathlib import Path

import dkim
import pytest

from digest.config import Config
from digest.delivery.message import MessageTemplate, Recipient, build_template, view_url
from digest.errors import ConfigError
from digest.render import MAX_HTML_BYTES, PLACEHOLDERS
from tests.deliver_support import GOLDEN, ISSUE, NOW, SUBJECT, bodies, make_config, parse

HTML = (GOLDEN / "digest.html").read_text(encoding="utf-8")
TEXT = (GOLDEN / "digest.txt").read_text(encoding="utf-8")
BASE = "https://lettre.example.org"
ALICE = Recipient(
    "alice@example.org",
    f"<{ISSUE}.7.abc@example.org>",
    f"{BASE}/unsubscribe/u.7.x",
    f"{BASE}/preferences/p.7.1.x",
)
BOB = Recipient(
    "bob@example.org",
    f"<{ISSUE}.8.def@example.org>",
    f"{BASE}/unsubscribe/u.8.y",
    f"{BASE}/preferences/p.8.1.y",
)


def template(config: Config, subject: str = SUBJECT, **kwargs: bool) -> MessageTemplate:
    return build_template(config, ISSUE, subject, HTML, TEXT, NOW, **kwargs)


def test_headers_and_structure(tmp_path: Path) -> None:
    data = template(make_config(tmp_path)).render(ALICE)
    message = parse(data)
    assert message.get_content_type() == "multipart/alternative"
    assert message["From"] == "Lettre du Cerdd <lettre@example.org>"
    assert message["To"] == "alice@example.org"
    assert message["Message-ID"] == ALICE.message_id
    assert message["Date"] == "Mon, 15 May 2023 09:00:00 +0200"  # the newsletter's timezone
    assert message["Subject"] == SUBJECT
    assert message["List-Id"] == "Lettre du Cerdd <lettre.example.org>"
    assert message["List-Unsubscribe"] == (
        f"<{ALICE.unsubscribe_url}>, <mailto:lettre@example.org?subject=unsubscribe%20u.7.x>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert data.isascii(), "headers are RFC 2047 and bodies quoted-printable"
    assert b"Subject: La lettre du Cerdd =?utf-8?" in data
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_the_unsubscribe_mailto_may_go_to_its_own_address(tmp_path: Path) -> None:
    config = make_config(tmp_path, "delivery:\n  unsubscribe_to: desinscription@example.org\n")
    message = parse(template(config).render(BOB))
    assert message["List-Unsubscribe"] == (
        f"<{BOB.unsubscribe_url}>, <mailto:desinscription@example.org?subject=unsubscribe%20u.8.y>"
    )


def test_bodies_are_the_stored_ones_with_the_subscribers_links(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    built = template(config)
    view = view_url(config, ISSUE)
    assert view == f"{BASE}/archives/{ISSUE}/"
    for recipient in (ALICE, BOB):
        text, html = bodies(parse(built.render(recipient)))
        fill = {PLACEHOLDERS["unsubscribe_url"]: recipient.unsubscribe_url,
                PLACEHOLDERS["preferences_url"]: recipient.preferences_url,
                PLACEHOLDERS["view_url"]: view}  # fmt: skip
        expected_text, expected_html = TEXT, HTML
        for placeholder, value in fill.items():
            expected_text = expected_text.replace(placeholder, value)
            expected_html = expected_html.replace(placeholder, value)
        # Decoded exactly as stored, links filled in; lines end in CRLF as on the wire.
        assert text == expected_text.replace("\n", "\r\n")
        assert html == expected_html.replace("\n", "\r\n")
        assert recipient.unsubscribe_url in text and recipient.unsubscribe_url in html
        assert recipient.preferences_url in text and recipient.preferences_url in html
        assert len(html.encode()) < MAX_HTML_BYTES
    alice, bob = built.render(ALICE), built.render(BOB)
    assert BOB.unsubscribe_url.encode() not in alice and ALICE.message_id.encode() not in bob


def test_a_hostile_title_cannot_inject_headers(tmp_path: Path) -> None:
    folder = tmp_path / "evil"
    folder.mkdir()
    config = make_config(folder)
    hostile = "Lettre\r\nBcc: victim@example.net\r\n\r\n<b>body</b>\x00\x1b[31m"
    evil = replace(config, newsletter=replace(config.newsletter, title=hostile))
    data = template(evil, subject=hostile + " — semaine").render(ALICE)
    message = parse(data)
    assert message["Bcc"] is None
    assert "\r" not in message["Subject"] and "\n" not in message["Subject"]
    assert message["Subject"].startswith("Lettre Bcc: victim@example.net <b>body</b>")
    assert "\x00" not in message["Subject"] and "\x1b" not in message["Subject"]
    assert message["List-Id"].endswith("<lettre.example.org>")
    headers = data.split(b"\r\n\r\n", 1)[0]
    assert not any(line.startswith(b"Bcc") for line in headers.split(b"\r\n"))


def test_a_test_copy_says_so(tmp_path: Path) -> None:
    message = parse(template(make_config(tmp_path), test=True).render(ALICE))
    assert message["Subject"] == "[TEST] " + SUBJECT


def test_dkim_signature_verifies_with_the_public_key(tmp_path: Path) -> None:
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    extra = "delivery:\n  dkim_key: dkim.pem\n  dkim_selector: lettre2026\n"
    data = template(make_config(tmp_path, extra)).render(ALICE)
    assert data.startswith(b"DKIM-Signature: ")
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"lettre2026._domainkey.example.org."
        return record

    assert dkim.verify(data, dnsfunc=dns)
    tampered = data.replace(b"u.7.x", b"u.9.x")
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_accented_names_are_encoded_and_read_back(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    newsletter = replace(
        config.newsletter, title="Lettre de l'été", sender="Équipe Cerdd <lettre@example.org>"
    )
    data = template(replace(config, newsletter=newsletter)).render(ALICE)
    assert data.isascii()
    message = parse(data)
    assert message["From"] == "Équipe Cerdd <lettre@example.org>"
    assert message["List-Id"] == "Lettre de l'été <lettre.example.org>"


@pytest.mark.usefixtures("english_staff")
def test_dkim_settings_are_checked_with_the_config(tmp_path: Path) -> None:
    (tmp_path / "recaps").mkdir()
    with pytest.raises(ConfigError) as error:
        make_config(tmp_path, "delivery:\n  dkim_key: missing.pem\n  connections: 0\n")
    problems = "\n".join(error.value.problems)
    assert "delivery: give both `dkim_key:` and `dkim_selector:`, or neither" in problems
    assert "delivery.dkim_key:" in problems and "missing.pem does not exist" in problems
    assert "delivery.connections: must be greater than 0" in problems
