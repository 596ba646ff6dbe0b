"""The language of items (declared, else guessed) and French typography on French text only,
on real feeds: heise (German, no declared language), SPIEGEL (declared `de`), Scripting
News (declared `en-us`) and the shipped French snapshots."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from digest.config import SourceConfig
from digest.errors import ParseError
from digest.models import Issue, Item, Section, Selection
from digest.period import week_period
from digest.render import RenderedIssue, render_issue
from digest.render.data import item_data
from digest.sources.feedparse import parse_feed
from digest.sources.files import read_recap
from digest.sources.language import declared_language, guess_language
from tests.golden_plugin import PARIS, make_config

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests/data/corpus"
SOURCE = SourceConfig(name="Partenaire", url="https://partenaire.example.org/feed.xml")
NNBSP, NBSP = "\u202f", "\u00a0"


def read(path: Path) -> list[Item]:
    return list(parse_feed(path.read_bytes(), SOURCE, "https://partenaire.example.org/"))


def render(items: list[Item], folder: Path, language: str = "fr") -> RenderedIssue:
    issue = Issue(
        id="2023-W19",
        period=week_period("2023-W19", PARIS),
        sections=(Section(theme="autres", title="Autres", items=tuple(items)),),
        sources=(),
        built_at=datetime(2023, 5, 15, 7, 0, tzinfo=PARIS),
        stats=Selection(items=()),
    )
    return render_issue(issue, make_config(folder, language=language))


def titled(items: list[Item], start: str) -> Item:
    return next(item for item in items if item.title.startswith(start))


def test_an_undeclared_german_feed_is_guessed_german() -> None:
    items = read(CORPUS / "miniflux/rdf_UTF8.xml")  # heise online, RSS 0.9, no <language>
    assert len(items) == 60
    assert {item.language for item in items} == {"de"}
    # Too short to guess alone: it takes its feed's language.
    assert guess_language(titled(items, "Fujitsu schließt").title) is None


def test_german_headlines_keep_their_colons_in_a_french_newsletter(tmp_path: Path) -> None:
    heise = read(CORPUS / "miniflux/rdf_UTF8.xml")
    spiegel = read(CORPUS / "feed-rs/rss_2.0_spiegel.xml")  # declared <language>de
    assert [item.language for item in spiegel] == ["de"]
    shown = [titled(heise, "iPhone XR: Verkaufsstart"), titled(heise, "Vorschau:"), spiegel[0]]
    result = render(shown, tmp_path)
    for text in (result.html, result.text, result.web):
        assert "iPhone XR: Verkaufsstart ohne Ansturm" in text
        assert "Vorschau: Neue PC-Spiele im November 2018" in text
        assert "die Wochenvorschau: Lockdown" in text
        for item in shown:  # no word of theirs is followed by a French " :"
            for word in re.findall(r"(\w+)[:?!;]", item.title + " " + item.summary_text):
                assert not re.search(rf"\b{word}[{NBSP}{NNBSP} ][:?!;]", text), word


def test_french_items_keep_french_typography_in_any_newsletter(tmp_path: Path) -> None:
    french = read(ROOT / "content/feeds/reseau-transition-hdf.xml")  # <language>fr-FR
    assert {item.language for item in french} == {"fr-fr"}
    item = next(item for item in french if " : " in item.title)
    words = item.title.split(" : ")
    english = read(CORPUS / "netnewswire/scriptingNews.rss")  # <language>en-us
    assert {item.language for item in english} == {"en-us"}
    question = titled(english, "An old friend: Richard MacManus")
    for language in ("fr", "en"):
        result = render([item, question], tmp_path, language)
        assert f"{NBSP}: ".join(words) in result.text
        assert question.title in result.text
        assert f"friend{NBSP}:" not in result.text


def test_items_of_unknown_language_follow_the_newsletter(tmp_path: Path) -> None:
    item = Item(key="k", title="Agenda : juin", url=None, published=None, source="S")
    assert f"Agenda{NBSP}: juin" in render([item], tmp_path, "fr").text
    assert "Agenda : juin" in render([item], tmp_path, "en").text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "La Région lance un appel à projets pour les tiers-lieux et c'est une bonne nouvelle",
            "fr",
        ),
        ("The council has launched a call for projects on the future of the city", "en"),
        ("Die Stadt hat einen Wettbewerb für die Zukunft der Innenstadt gestartet", "de"),
        ("El ayuntamiento presenta los proyectos para el centro de la ciudad", "es"),
        ("iPhone XR: Verkaufsstart ohne Ansturm", None),  # too short: no guess
        ("", None),
    ],
)
def test_guess_language(text: str, expected: str | None) -> None:
    assert guess_language(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("fr-FR", "fr-fr"),
        (" en_US ", "en-us"),
        ("de", "de"),
        ("", None),
        ("12", None),
        (None, None),
    ],
)
def test_declared_language(value: object, expected: str | None) -> None:
    assert declared_language(value) == expected


def test_recaps_are_in_the_newsletters_language_unless_they_say(tmp_path: Path) -> None:
    recaps = SourceConfig(name="Récits", path=tmp_path)
    plain = tmp_path / "a.md"
    plain.write_text("# Plans climat : les élus\n\nTexte.\n", encoding="utf-8")
    assert read_recap(plain, recaps, PARIS).language is None
    english = tmp_path / "b.md"
    english.write_text("---\ntitle: 'Climate: what now?'\nlang: en\n---\nText.\n", "utf-8")
    item = read_recap(english, recaps, PARIS)
    assert item.language == "en"
    assert item_data(item)["language"] == "en"
    assert "Climate: what now?" in render([item], tmp_path).text
    bad = tmp_path / "c.md"
    bad.write_text("---\ntitle: T\nlanguage: 'français'\n---\nTexte.\n", encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        read_recap(bad, recaps, PARIS)
    assert "c.md:3: language:" in caught.value.message


def test_digest_json_carries_each_items_language() -> None:
    items = read(CORPUS / "feed-rs/rss_2.0_spiegel.xml")
    assert json.loads(json.dumps(item_data(items[0])))["language"] == "de"
