"""Links that reach readers: what they show is where they lead (lookalike hosts, credentials,
obfuscated schemes), the same URL gives the same key, and MRML leaves them as they are."""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from digest.config import SourceConfig
from digest.errors import ParseError
from digest.identity import item_key
from digest.models import Item, Section
from digest.render import RenderedIssue, render_issue
from digest.render.email import compile_mjml, mrml_proof
from digest.select import dedupe
from digest.sources.feedparse import parse_feed
from digest.sources.files import read_recap
from digest.text import sanitize_html
from digest.urls import PLAIN_ABSOLUTE, browser_url, canonical_url, http_url
from tests.golden_plugin import golden_issue, make_config

SOURCE = SourceConfig(name="Partenaire", url="https://partner.example.org/flux.xml")
LOOKALIKE = "https://www.cerdd.οrg/connexion"  # a Greek omicron in "org"
PUNYCODE = "https://www.cerdd.xn--rg-ibc/connexion"


def feed(*links: str, title: str = "Article") -> bytes:
    """An RSS 2.0 feed with one item per link (written as is inside <link>)."""
    items = "".join(
        f"<item><title>{title} {n}</title><link>{link}</link><guid>g{n}</guid>"
        "<pubDate>Wed, 10 May 2023 08:00:00 GMT</pubDate></item>"
        for n, link in enumerate(links)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>P</title>'
        f"<link>https://partner.example.org/</link>{items}</channel></rss>"
    ).encode()


# -- 1. lookalike hosts -------------------------------------------------------------------


def test_a_host_in_another_script_or_mixing_scripts_is_punycode() -> None:
    assert http_url(LOOKALIKE) == PUNYCODE
    assert http_url("https://аpple.example/a") == "https://xn--pple-43d.example/a"  # Cyrillic а
    assert http_url("https://партнер.рф/") == "https://xn--80akxggcl.xn--p1ai/"
    assert http_url("https://ıle.example/") == "https://xn--le-gpa.example/"  # dotless ı
    assert http_url("HTTPS://Www.Cerdd.Οrg:8443/a") == "HTTPS://Www.Cerdd.xn--rg-ibc:8443/a"
    # Browsers split host names on the ideographic full stop too.
    assert http_url("https://www.cerdd。org/a") == "https://www.cerdd.org/a"


def test_accented_latin_labels_stay_readable() -> None:
    assert http_url("https://Énergie.example.fr/a") == "https://énergie.example.fr/a"
    assert http_url("https://e\u0301nergie.example.fr/") == "https://énergie.example.fr/"
    assert http_url("https://straße.example.de/") == "https://straße.example.de/"


def test_a_host_that_cannot_be_encoded_costs_the_link() -> None:
    too_long = "https://" + "é" * 70 + ".example/"
    assert http_url(too_long) is None
    clean = sanitize_html(f'<a href="{too_long}">un</a> <a href="{LOOKALIKE}">deux</a>')
    rel = 'rel="noopener noreferrer"'
    assert clean == f'<a {rel}>un</a> <a href="{PUNYCODE}" {rel}>deux</a>'


def test_an_image_on_a_lookalike_host_is_shown_in_punycode() -> None:
    clean = sanitize_html('<img src="//img.cerdd.οrg/a.jpg">', "https://p.example.org/")
    assert clean == '<img src="https://img.cerdd.xn--rg-ibc/a.jpg">'


def test_identity_sees_the_host_as_http_url_writes_it() -> None:
    for raw in (LOOKALIKE, "https://Énergie.example.fr/a?utm_source=x", "https://ıle.example"):
        written = http_url(raw)
        assert written is not None
        assert canonical_url(raw) == canonical_url(written)
        assert item_key(raw, None, "A", "", "") == item_key(written, None, "B", "", "")


def test_a_recap_never_borrows_a_lookalike_link_in_disguise() -> None:
    title = "Retour sur la deuxième journée régionale des Territoires Participatifs"
    (relay,) = parse_feed(feed(LOOKALIKE, title=title), SOURCE, None)
    assert relay.url == PUNYCODE
    recap = Item(
        key=item_key(None, "file:journee", "Le Cerdd", title, ""),
        title=f"{title} 0",
        url=None,
        published=datetime(2023, 5, 11, 9, tzinfo=UTC),
        source="Le Cerdd",
        origin="file",
    )
    ((merged, _keys),) = dedupe([relay, recap], 0.85)[0]
    assert merged.source == "Le Cerdd" and merged.url == PUNYCODE


def test_feed_links_on_lookalike_hosts_are_punycode() -> None:
    (item,) = parse_feed(feed("https://www.cerdd.&#x3BF;rg/connexion"), SOURCE, None)
    assert item.url == PUNYCODE


# -- 2. credentials in URLs -----------------------------------------------------------------

# Shows the Cerdd's address, leads to evil.example: everything before '@' is a user name.
CREDENTIALS = "https://www.cerdd.org:443@evil.example:8443/phish"


def test_urls_with_a_user_or_password_are_dropped() -> None:
    for url in (CREDENTIALS, "https://lettre@evil.example/", "http://:@evil.example/a"):
        assert http_url(url) is None, url
    assert http_url("/@evil.example/a", "https://p.example.org/") == (
        "https://p.example.org/@evil.example/a"  # an '@' in the path is no user name
    )


def test_summary_links_and_images_with_credentials_lose_their_url() -> None:
    clean = sanitize_html(
        f'<p><a href="{CREDENTIALS}">lien</a> <img src="https://u:p@img.example/a.jpg" alt="i">'
        ' <a href="mailto:contact@cerdd.org">écrire</a></p>'
    )
    # The link keeps its text; the image, with nothing left to show, goes.
    assert clean == (
        '<p><a rel="noopener noreferrer">lien</a> '
        ' <a href="mailto:contact@cerdd.org" rel="noopener noreferrer">écrire</a></p>'
    )


def test_an_item_link_with_credentials_falls_back_to_its_guid() -> None:
    body = feed(CREDENTIALS).replace(b"<guid>g0</guid>", b"<guid>https://p.example.org/a</guid>")
    (item,) = parse_feed(body, SOURCE, None)
    assert item.url == "https://p.example.org/a"
    assert b"evil" not in repr(item).encode()


@pytest.mark.usefixtures("english_staff")
def test_a_recap_url_with_credentials_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "r.md"
    path.write_text(f"---\ntitle: T\nurl: {CREDENTIALS}\n---\nTexte.\n", encoding="utf-8")
    source = SourceConfig(name="Récits", path=tmp_path)
    with pytest.raises(ParseError, match=r"r\.md:3: url: .* not an http\(s\) URL") as caught:
        read_recap(path, source, ZoneInfo("Europe/Paris"))
    assert caught.value.hint == "give the page's full address, without user:password@"


# -- 3. obfuscated schemes --------------------------------------------------------------------


def test_tabs_and_newlines_vanish_from_links_as_in_browsers() -> None:
    base = "https://partner.example.org/"
    for obfuscated in ("  JAVA\tSCRIPT:alert(21)", "java\nscript:alert(2)", "\rjavascript:x"):
        assert http_url(obfuscated, base) is None, obfuscated
    assert http_url("https://p.example.org/a\tb\r\n", base) == "https://p.example.org/ab"


def test_an_obfuscated_javascript_item_link_is_dropped_not_made_relative() -> None:
    items = parse_feed(
        feed("  JAVA&#x09;SCRIPT:alert(21)", "java&#x0A;script:alert(22)"), SOURCE, None
    )
    assert [item.url for item in items] == [None, None]
    assert "alert" not in repr(items) and "partner.example.org/JAVA" not in repr(items)


def test_summary_links_lose_tabs_and_newlines_too() -> None:
    clean = sanitize_html(
        '<a href="JAVA&#x09;SCRIPT:alert(1)">x</a> <a href="/a&#9;b">y</a>',
        "https://p.example.org/",
    )
    assert clean == (
        '<a rel="noopener noreferrer">x</a> '
        '<a href="https://p.example.org/ab" rel="noopener noreferrer">y</a>'
    )


# -- 4. URLs in ASCII, as a browser writes them (MRML doubles a backslash) -----------------


def test_backslashes_are_slashes_before_the_query() -> None:
    base = "https://p.example.org/"
    assert (
        http_url("https://p.example.org/docs\\guide.pdf") == "https://p.example.org/docs/guide.pdf"
    )
    assert (
        http_url("docs\\a.pdf?p=C:\\x#\\y", base)
        == "https://p.example.org/docs/a.pdf?p=C:%5Cx#%5Cy"
    )
    assert (
        http_url("https://p.example.org\\@evil.example/") == "https://p.example.org/@evil.example/"
    )
    assert http_url("\\\\cdn.example.org/i.jpg", base) == "https://cdn.example.org/i.jpg"
    assert http_url("mailto:a\\b@c.org") is None  # never an http(s) URL, backslash or not


def test_a_host_a_browser_would_refuse_costs_the_link() -> None:
    for host in ('p.example.org"', "p.example.org>", "p.ex^ample.org", "%63erdd.org", "é|.fr"):
        assert http_url(f"https://{host}/a") is None, host
    assert http_url("http://[::1]:8080/a") == "http://[::1]:8080/a"


def test_non_ascii_and_unsafe_characters_are_percent_encoded_once() -> None:
    assert http_url("https://p.example.org/a\u3000b c") == "https://p.example.org/a%E3%80%80b%20c"
    assert http_url("https://p.example.org/\"<l'eau>`{}") == (
        "https://p.example.org/%22%3Cl'eau%3E%60%7B%7D"
    )
    assert http_url("https://p.example.org/actualités?q=été&r=l'eau#à") == (
        "https://p.example.org/actualit%C3%A9s?q=%C3%A9t%C3%A9&r=l%27eau#%C3%A0"
    )
    kept = "https://p.example.org/a%20b%C3%A9%zz?q=%25#%E2%80%93"
    assert http_url(kept) == kept  # no %25 for an existing %XX, nor for a lone '%'


def test_browser_url_changes_nothing_twice_nor_what_the_fast_path_lets_through() -> None:
    alphabet = "aZ09-./\\?#%&=:;@'\" <>`{}|^[]~é\u3000ο"
    rng = random.Random(41)
    for _ in range(3000):
        tail = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        for url in ("https://p.example.org/" + tail, "http://énergie.ο.example" + tail):
            once = browser_url(url)
            assert once is not None and browser_url(once) == once, url
            if PLAIN_ABSOLUTE.match(url):
                assert once == url, url


def test_a_url_and_its_written_form_have_the_same_key() -> None:
    alphabet = "aZ0./\\?#&=:;%-_ é\t\u3000\"'<>ο"
    rng = random.Random(43)
    checked = 0
    for _ in range(3000):
        tail = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        for raw in ("https://p.example.org" + tail, "HTTP://P.example.οrg/" + tail):
            written = http_url(raw)
            if written is not None:
                after_host = urlsplit(written)._replace(scheme="", netloc="").geturl()
                assert after_host.isascii(), raw
                assert canonical_url(raw) == canonical_url(written), raw
                checked += 1
    assert checked > 4000  # most of them: the test is not vacuous


def render_items(tmp_path: Path, *items: Item) -> RenderedIssue:
    """The golden issue with `items` as its first section, rendered for real."""
    issue = golden_issue()
    section = Section(theme="climat", title="Climat et énergie", items=items)
    return render_issue(replace(issue, sections=(section,)), make_config(tmp_path))


def test_the_email_links_to_what_the_feed_linked(tmp_path: Path) -> None:
    links = ("https://p.example.org/docs\\guide.pdf", "https://p.example.org/a\u3000b")
    parsed = parse_feed(feed(*links), SOURCE, None)
    # One item built by hand, as a stage that skipped http_url would: the view checks again.
    raw = replace(parsed[0], key="k-raw", title="Sans contrôle", url="https://p.example.org/x\\y")
    rendered = render_items(tmp_path, *parsed, raw)
    for url in ("docs/guide.pdf", "a%E3%80%80b", "x/y"):
        assert f'href="https://p.example.org/{url}"' in rendered.html, url
        assert f"→ https://p.example.org/{url}\n" in rendered.text, url
        assert f'href="https://p.example.org/{url}"' in rendered.web, url
    assert "\\" not in rendered.html and "\\u{" not in rendered.html


# -- 4b. attribute text survives MRML -------------------------------------------------------

IMAGE_MJML = (
    "<mjml><mj-body><mj-section><mj-column>"
    '<mj-image src="https://x.org/i.jpg" alt="{alt}"/>'
    "</mj-column></mj-section></mj-body></mjml>"
)
# html.unescape drops these references where browsers keep the character: not tested.
NONCHARACTERS = {
    *range(0xFDD0, 0xFDF0),
    *(p + e for p in (0, 0x10000, 0x20000) for e in (0xFFFE, 0xFFFF)),
}


def test_mrml_leaves_every_character_of_an_attribute_alone(tmp_path: Path) -> None:
    # Every code point of the BMP and the next two planes in one alt text (but for what
    # HTML must escape and what html.unescape treats its own way): MRML escapes some of
    # each category (a backslash, marks, spaces, format and unassigned characters...).
    points = [p for p in range(0x20, 0x30000) if chr(p) not in '"&<>' and not 0xD800 <= p < 0xE000]
    points = [p for p in points if p not in NONCHARACTERS]
    text = "x\t\n\r" + "".join(map(chr, points))
    html = compile_mjml(IMAGE_MJML.format(alt=text), make_config(tmp_path))
    alt = re.findall(r'alt="([^"]*)"', html)[0]
    assert "\\u{" not in alt and "\\\\" not in alt
    expected = "".join(c for c in unicodedata.normalize("NFC", text) if not 0x7F <= ord(c) < 0xA0)
    assert unescape(alt) == expected


def test_a_leading_combining_mark_is_dropped_and_decomposed_accents_composed() -> None:
    assert mrml_proof('<mj-image alt="\u0301e\u0301te\u0301"/>') == '<mj-image alt="été"/>'
    assert mrml_proof("<mj-image alt='C:\\Users\\'/>") == "<mj-image alt='C:&#x5c;Users&#x5c;'/>"
    untouched = '<mj-text>C:\\Users\\ \u00a0: "\u0301e"</mj-text><mj-image alt="Vélo" />'
    assert mrml_proof(untouched) == untouched  # text is not an attribute; é is safe


def test_titles_and_links_reach_the_compiled_email_as_written(tmp_path: Path) -> None:
    title = "Dossier C:\\Users\\ :\u3000\u0301e bis"
    (item,) = parse_feed(feed("https://p.example.org/docs\\guide.pdf", title=title), SOURCE, None)
    # The feed's own alt text may say anything a title does.
    item = replace(item, image="https://p.example.org/i.jpg", image_alt=item.title)
    issue = replace(
        golden_issue(),
        sections=(Section(theme="climat", title="Climat", items=(item,)),),
        edito_html='<p><a href="https://p.example.org/" title="C:\\Users\\">le dossier</a></p>',
    )
    rendered = render_issue(issue, make_config(tmp_path))
    assert "\\u{" not in rendered.html and "\\\\" not in rendered.html
    alts = [unescape(alt) for alt in re.findall(r'alt="([^"]*)"', rendered.html)]
    assert item.title in alts  # as on the web page, backslashes included
    assert 'title="C:&#x5c;Users&#x5c;"' in rendered.html
    assert 'href="https://p.example.org/docs/guide.pdf"' in rendered.html
    assert f'alt="{item.title}"' in rendered.web
