"""Feed bytes to Items: formats, hostile content, encodings, dates, identity."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.config import SourceConfig
from digest.errors import ParseError
from digest.identity import item_key
from digest.models import Item
from digest.sources.feedparse import parse_feed, strip_doctype

ROOT = Path(__file__).resolve().parents[1]
FEEDS = ROOT / "tests" / "data" / "feeds"
SOURCE = SourceConfig(name="Partenaire", url="https://partenaire.example.org/flux.xml")


def parse(name: str, base: str | None = None, headers: dict[str, str] | None = None) -> list[Item]:
    return list(parse_feed((FEEDS / name).read_bytes(), SOURCE, base, headers))


def everything(items: list[Item]) -> str:
    """All the text an item carries to later stages, in one string."""
    return "\n".join(repr(item) for item in items)


def test_rss_2_0() -> None:
    first, second, third = parse("rss20.xml", "https://arb.example.org/feed/")
    assert first.url == (
        "https://arb.example.org/actualites/atlas-biodiversite-communale-2023?utm_source=rss"
    )
    assert first.published == datetime(2023, 5, 9, 7, 30, tzinfo=UTC)
    assert first.categories == ("Biodiversité", "Collectivités")
    assert first.author == "Camille Lefebvre"
    assert first.guid == "arb-2023-0142"
    assert first.key == item_key(first.url, first.guid, "Partenaire", first.title, "")
    # content:encoded wins over description, with its relative link made absolute.
    assert '<a href="https://arb.example.org/abc"' in first.summary_html
    assert first.summary_text.startswith("Douze communes des Hauts-de-France rejoignent")
    assert first.image == "https://arb.example.org/images/abc-2023.jpg"  # media:content
    assert second.image == "https://arb.example.org/images/zero-dechet.png"  # enclosure
    assert third.image == "https://arb.example.org/actualites/images/atelier.jpg"  # first <img>
    # The feed's own alt text goes with its picture; a media:content image has none.
    assert (first.image_alt, third.image_alt) == ("", "Atelier participatif")


def test_relative_item_link_resolves_against_the_feed_link() -> None:
    items = parse("rss20.xml", "https://cdn.example.net/feeds/arb.xml")
    assert items[1].url == "https://arb.example.org/actualites/appel-projets-zero-dechet"


def test_tracking_pixel_is_neither_image_nor_content() -> None:
    second = parse("rss20.xml")[1]
    assert "pixel.gif" not in second.summary_html
    assert second.image == "https://arb.example.org/images/zero-dechet.png"


def test_rss_0_91_with_netscape_entities() -> None:
    items = parse("rss091.xml")
    assert [i.title for i in items] == [
        "Ouverture d’une ressourcerie à Amiens",
        "Bilan 2022 : 1 200 tonnes détournées de l’enfouissement",
    ]
    assert items[0].summary_text.startswith("Réemploi, réparation et sensibilisation")
    assert items[0].published is None  # RSS 0.91 items carry no date: none is invented


def test_rss_1_0_rdf() -> None:
    first, second = parse("rss10.rdf")
    assert first.title == "Bilan des émissions de gaz à effet de serre 2021"
    assert first.published == datetime(2023, 5, 8, 8, 0, tzinfo=UTC)
    assert first.categories == ("Climat",)
    assert second.url == "https://observatoire.example.org/publications/vagues-de-chaleur"


def test_atom_1_0_with_xml_base() -> None:
    first, second = parse("atom.xml")
    assert first.title == "Budget participatif : les lauréats 2023"  # type="html" stripped
    assert first.url == "https://participation.example.org/blog/budget-participatif-laureats-2023"
    assert first.published == datetime(2023, 5, 9, 7, 0, tzinfo=UTC)  # published, not updated
    assert second.published == datetime(2023, 5, 11, 10, 0, tzinfo=UTC)  # updated only
    assert first.author == "Équipe participation"
    assert first.categories == ("participation",)
    assert 'href="https://participation.example.org/blog/jardins-partages"' in first.summary_html


def test_atom_titles_follow_their_type() -> None:
    # type="text" (and no type) is literal text; only html and xhtml titles hold markup.
    assert [item.title for item in parse("titles-atom.xml")] == [
        "Comment utiliser <script> sans risque : guide 2023",
        "Les balises <b> et <i> en HTML",
        "Sobriété numérique & collectivités",
        "Réemploi du matériel <enfin>",
        "Tabulations et retours à la ligne repliés",  # controls out, spaces folded
    ]


def test_rss_titles_are_html_only_when_feedparser_sees_markup() -> None:
    assert [item.title for item in parse("titles-rss.xml")] == [
        "Appel à projets numérique responsable",  # escaped markup: a closing tag
        "Tiers-lieux : la carte 2023",  # CDATA with tags
        "Quand a < b et c > d : comparer les consommations",
        "Les balises <b> et <i> en HTML",  # no closing tag, no entity: text
        "Cafés réparation & ateliers",  # entities: HTML
        "Utiliser <canvas> pour les cartes : retour d'expérience",  # from the summary's text
    ]


def test_hostile_markup_never_comes_out() -> None:
    items = parse("hostile.xml")
    text = everything(items).lower()
    for needle in ("<script", "onclick", "onerror", "javascript:", "<iframe", "<style", "<form"):
        assert needle not in text
    assert "document.cookie" not in text and "evil.example" not in text
    assert items[0].summary_html.startswith("<p>Le plan vélo est adopté.</p>")


def test_crlf_in_a_title_becomes_one_line() -> None:
    title = parse("hostile.xml")[0].title
    assert title == "Mobilités douces Bcc: victime@example.org : le plan vélo adopté"
    assert "\r" not in title and "\n" not in title


def test_javascript_link_falls_back_to_an_http_guid_or_to_no_url() -> None:
    _, atelier, piege = parse("hostile.xml")
    assert atelier.url == "https://transition.example.org/ateliers-reparation"
    assert piege.url is None and piege.image is None
    assert piege.key == item_key(None, "piege-1", "Partenaire", piege.title, piege.summary_text)


def test_urls_urllib_refuses_cost_the_link_not_the_feed(capfd: pytest.CaptureFixture[str]) -> None:
    body = (
        b'<rss version="2.0"><channel><title>T</title><link>http://[base/</link>'
        b"<item><title>Port</title><link>https://ex.org:abc/a</link><guid>p1</guid></item>"
        b"<item><title>IPv6</title><link>http://[x/</link><guid>p2</guid>"
        b'<description>&lt;a href="http://[y/"&gt;lien&lt;/a&gt; &lt;img src="/i.jpg"&gt;'
        b"</description></item>"
        b"<item><title>Bon</title><link>https://ex.org:8443/ok</link></item></channel></rss>"
    )
    port, ipv6, good = parse_feed(body, SOURCE, None)
    assert (port.url, ipv6.url, good.url) == (None, None, "https://ex.org:8443/ok")
    assert "href" not in ipv6.summary_html and "src" not in ipv6.summary_html
    assert "lien" in ipv6.summary_html
    assert capfd.readouterr().err == ""  # nothing reported by nh3's filter callback


def test_billion_laughs_is_not_expanded() -> None:
    items = parse("billion-laughs.xml")
    assert len(items) == 1 and items[0].url == "https://rires.example.org/sdd"
    assert "lollol" not in everything(items)


def test_external_entities_are_never_read(tmp_path: Path) -> None:
    # The entity names a file this test writes, so the test reads nothing outside the
    # repository and knows exactly what a leak would look like.
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:secret-7f3a\n", encoding="utf-8")
    body = (FEEDS / "xxe.xml").read_bytes().replace(b"file:///etc/passwd", secret.as_uri().encode())
    assert secret.as_uri().encode() in body
    items = list(parse_feed(body, SOURCE, None, None))
    assert [i.title for i in items] == ["Transition énergétique &xxe;"]
    output = everything(items)
    assert "secret-7f3a" not in output and "root:" not in output


def amplification_feed(hostile: bool) -> bytes:
    """About 87 KB either way; the hostile one names a 21 KB entity 3,600 times (75 MB)."""
    value = "climat " * 3000
    ref = "&big;" if hostile else "texte"
    head = '<?xml version="1.0" encoding="utf-8"?>\n'
    head += f'<!DOCTYPE rss [<!ENTITY big "{value}">]>\n' if hostile else ""
    pad = "" if hostile else f"<!-- {value} -->"
    entries = "".join(
        f"<item><title>Article {n} {ref}</title><link>https://amp.example.org/{n}</link>"
        f"<description>{ref * 8} sobriété</description></item>\n"
        for n in range(400)
    )
    channel = f"<title>Amp</title><link>https://amp.example.org/</link>{pad}{entries}"
    return f'{head}<rss version="2.0"><channel>{channel}</channel></rss>'.encode()


def timed_parse(body: bytes) -> tuple[float, tuple[Item, ...]]:
    started = time.process_time()
    items = parse_feed(body, SOURCE, None)
    return time.process_time() - started, items


def test_large_entity_amplification_costs_about_a_normal_feed() -> None:
    normal, hostile = amplification_feed(False), amplification_feed(True)
    assert abs(len(normal) - len(hostile)) < 1000
    timed_parse(normal)  # warm caches so both timings compare like with like
    normal_cpu, normal_items = timed_parse(normal)
    hostile_cpu, hostile_items = timed_parse(hostile)
    assert len(hostile_items) == len(normal_items) == 400
    assert hostile_cpu < 5 * normal_cpu
    output = everything(list(hostile_items))
    assert "climat climat" not in output
    assert len(output) < 2 * len(everything(list(normal_items)))


def test_latin1_feed_with_declaration() -> None:
    [item] = parse("latin1.xml")
    assert item.title == "Fête de la nature : sorties découverte en forêt"
    assert (
        item.summary_text == "Randonnées commentées, écoute des oiseaux et atelier « éco-gestes »."
    )


def test_latin1_charset_from_the_http_header() -> None:
    headers = {"Content-Type": "application/rss+xml; charset=ISO-8859-1"}
    [item] = parse("latin1-header.xml", headers=headers)
    assert item.title == "Café-climat : éco-anxiété et engagement"
    assert item.summary_text == "Échanges conviviaux autour d'un café équitable."


def test_utf16_feed() -> None:
    text = (FEEDS / "rss20.xml").read_text(encoding="utf-8").replace('"utf-8"', '"utf-16"')
    items = parse_feed(text.encode("utf-16"), SOURCE, None)
    assert items[1].title == "Économie circulaire : appel à projets « Territoires zéro déchet »"


def test_malformed_xml_that_still_has_entries_is_accepted() -> None:
    first, second = parse("malformed.xml")
    assert first.title == "Rencontre régionale de l'économie sociale & solidaire"
    assert first.summary_html == "<p>Balise non fermée <b>ici</b></p>"
    assert second.url == "https://malforme.example.org/deux"


@pytest.mark.usefixtures("english_staff")
def test_broken_xml_without_entries_is_refused() -> None:
    with pytest.raises(ParseError, match="malformed feed with no entries"):
        parse("broken.xml")


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        ((FEEDS / "page.html").read_bytes(), "text/html; charset=utf-8", "(got text/html)"),
        (b'{"items": [1, 2]}', "application/json", "(got application/json)"),
        (b"", "application/rss+xml", "(got application/rss+xml)"),
        (b"<note><to>Cerdd</to></note>", "", "(got no Content-Type)"),
    ],
)
@pytest.mark.usefixtures("english_staff")
def test_not_a_feed(body: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(ParseError, match=re.escape("not a feed " + reason)):
        parse_feed(body, SOURCE, None, {"Content-Type": content_type} if content_type else {})


@pytest.mark.usefixtures("english_staff")
def test_bytes_naming_a_local_file_are_never_opened() -> None:
    # feedparser.parse() opens a file whose name it is given, even as bytes.
    with pytest.raises(ParseError, match="not a feed"):
        parse_feed(str(FEEDS / "rss20.xml").encode(), SOURCE, None)


def test_missing_and_future_dates_and_duplicate_guids() -> None:
    items = parse("dates.xml")
    assert [i.title for i in items] == [
        "Sans date : agenda des sorties nature",
        "Date dans le futur : assises de la transition",
        "Premier article avec ce GUID",
        "Date illisible",
    ]
    undated, future, first, unreadable = items
    assert undated.published is None and unreadable.published is None
    assert future.published == datetime(2031, 3, 14, 8, 0, tzinfo=UTC)  # as given
    assert first.url == "https://cpie.example.org/premier"  # the first of the two GUIDs
    assert len({i.key for i in items}) == 4


@pytest.mark.usefixtures("english_staff")
def test_entity_checks_hold_in_any_encoding() -> None:
    # The same bypass in UTF-16: the checks read the text as the parser will, not bytes.
    text = amplification_feed(True).decode("utf-8").replace('"utf-8"', '"utf-16"')
    text = text.replace("<!DOCTYPE rss [<!ENTITY", "x\n<!DOCTYPE rss [\n<!ENTITY", 1)
    with pytest.raises(ParseError, match="declares XML entities"):
        parse_feed(text.encode("utf-16"), SOURCE, None)


@pytest.mark.usefixtures("english_staff")
def test_doctype_is_stripped_with_quotes_and_subset() -> None:
    body = b'<?xml version="1.0"?>\n<!-- c --><!DOCTYPE rss [<!ENTITY a "]>">]><rss/>'
    assert strip_doctype(body) == b'<?xml version="1.0"?>\n<!-- c --><rss/>'
    assert strip_doctype(b"<rss><![CDATA[<!DOCTYPE x>]]></rss>").startswith(b"<rss>")
    with pytest.raises(ParseError, match="DOCTYPE declaration never ends"):
        strip_doctype(b'<!DOCTYPE rss [<!ENTITY a "never closed>]><rss/>')


@pytest.mark.usefixtures("english_staff")
def test_entities_declared_out_of_place_are_refused() -> None:
    # Stray text before the DOCTYPE: not in the prolog, yet feedparser's lenient parser
    # would still read the declaration and expand the entity into every reference.
    # Without the check this variant cost 9 s of CPU and 67 MB of "climat climat ...".
    hostile = amplification_feed(True).replace(
        b"<!DOCTYPE rss [<!ENTITY", b"x\n<!DOCTYPE rss [\n<!ENTITY", 1
    )
    with pytest.raises(ParseError, match="declares XML entities"):
        parse_feed(hostile, SOURCE, None)


def test_untitled_entry_takes_its_first_words() -> None:
    body = (
        b'<rss version="2.0"><channel><title>T</title><item><link>https://ex.org/a</link>'
        b"<description>Les jardins partag\xc3\xa9s du quartier accueillent les habitants "
        b"chaque samedi matin pour des ateliers de compostage et de semis.</description>"
        b"</item><item><description></description></item></channel></rss>"
    )
    [item] = parse_feed(body, SOURCE, None)  # the empty entry has nothing to show: dropped
    assert item.title == (
        "Les jardins partagés du quartier accueillent les habitants chaque samedi matin pour…"
    )


def test_feedparser_reads_with_the_buffered_driver_and_sees_the_same_feeds() -> None:
    """The buffered expat driver is the one feedparser uses, and it changes no result."""
    import xml.sax

    import feedparser.api

    from digest.sources import feedparse

    assert isinstance(
        xml.sax.make_parser(feedparser.api.PREFERRED_XML_PARSERS),
        feedparse.BufferedExpatParser,
    )
    paths = sorted(FEEDS.glob("*")) + sorted((ROOT / "content" / "feeds").glob("*.xml"))
    assert len(paths) > 10
    for path in paths:
        body = path.read_bytes()
        buffered = feedparse._run_feedparser(body, {})
        feedparser.api.PREFERRED_XML_PARSERS.remove(feedparse.__name__)
        try:
            plain = feedparse._run_feedparser(body, {})
        finally:
            feedparser.api.PREFERRED_XML_PARSERS.insert(0, feedparse.__name__)
        assert buffered.entries == plain.entries, path.name
        assert buffered.feed == plain.feed, path.name
        assert buffered.get("bozo") == plain.get("bozo"), path.name


@pytest.mark.parametrize("element", ["summary_detail", "title_detail", "links"])
def test_an_item_element_named_like_a_feedparser_key_leaves_out_that_item_only(
    element: str,
) -> None:
    """feedparser keeps unknown elements under their own names, which can be its own keys
    (`<links>x</links>` makes `entry["links"]` a string): that entry cannot be read, the
    feed's other items still are (before, the whole feed failed with an AttributeError)."""
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<link>https://partenaire.example.org/</link>"
        f"<item><title>Un</title><link>https://partenaire.example.org/1</link><{element}>x"
        f"</{element}></item><item><title>Deux</title>"
        "<link>https://partenaire.example.org/2</link></item></channel></rss>"
    ).encode()
    for fast_path in (True, False):
        items = parse_feed(body, SOURCE, SOURCE.url, fast_path=fast_path)
        assert [item.title for item in items] == ["Deux"]
