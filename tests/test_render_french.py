"""Render's French: Babel dates put together the French way, and typography on text only."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from digest.config import SourceConfig
from digest.i18n import messages
from digest.models import Issue, Item, Period, Section, Selection
from digest.period import range_period, week_period
from digest.render import render_issue
from digest.render.dates import day_label, event_label, issue_year, period_label
from digest.render.typography import typo_html, typo_text
from digest.sources.feedparse import parse_feed
from tests.golden_plugin import PARIS, make_config

ROOT = Path(__file__).resolve().parents[1]

FR, EN = messages("fr"), messages("en")
NNBSP, NBSP = "\u202f", "\u00a0"


def nb(text: str) -> str:
    """Expected French text, written readably: "~" is a no-break space (as in TeX), "^" a
    narrow no-break space."""
    return text.replace("~", NBSP).replace("^", NNBSP)


@pytest.mark.parametrize(
    ("week", "french", "english"),
    [
        ("2023-W19", nb("Semaine du 8 au 14~mai~2023"), "Week of 8–14 May 2023"),
        ("2023-W22", nb("Semaine du 29~mai au 4~juin~2023"), "Week of 29 May – 4 June 2023"),
        (
            "2022-W52",
            nb("Semaine du 26~décembre~2022 au 1er~janvier~2023"),
            "Week of 26 December 2022 – 1 January 2023",
        ),
        # The week in which France leaves summer time: still Monday to Sunday.
        ("2023-W43", nb("Semaine du 23 au 29~octobre~2023"), "Week of 23–29 October 2023"),
    ],
)
def test_week_labels(week: str, french: str, english: str) -> None:
    period = week_period(week, PARIS)
    assert period_label(period, PARIS, FR) == french
    assert period_label(period, PARIS, EN) == english


def test_other_periods() -> None:
    assert period_label(range_period(date(2023, 5, 1), date(2023, 5, 20), PARIS), PARIS, FR) == (
        nb("Du 1er au 20~mai~2023")
    )
    assert period_label(range_period(date(2023, 5, 11), date(2023, 5, 11), PARIS), PARIS, FR) == (
        nb("Le 11~mai~2023")
    )


def test_day_and_event_labels() -> None:
    late = datetime(2023, 5, 11, 23, 30, tzinfo=PARIS)
    assert day_label(late, PARIS, FR, year=False) == nb("jeudi~11~mai")
    assert day_label(late, PARIS, EN, year=False) == "Thursday 11 May"
    # A UTC time is shown on the newsletter's own calendar day.
    utc = datetime.fromisoformat("2023-05-11T22:30:00+00:00")
    assert day_label(utc, PARIS, FR, year=False) == nb("vendredi~12~mai")
    event = datetime(2024, 2, 1, 9, 5, tzinfo=PARIS)
    assert event_label(event, PARIS, FR, 2023) == nb("jeudi~1er~février~2024, 9~h~05")
    assert event_label(event, PARIS, EN, 2024) == "Thursday 1 February, 9:05"
    assert event_label(datetime(2023, 6, 1, tzinfo=PARIS), PARIS, FR, 2023) == nb("jeudi~1er~juin")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bonjour ! Ça va ? Oui ; merci", f"Bonjour{NNBSP}! Ça va{NNBSP}? Oui{NNBSP}; merci"),
        ("Bonjour! Ça va?", f"Bonjour{NNBSP}! Ça va{NNBSP}?"),
        ("Note : voir", f"Note{NBSP}: voir"),
        ("Note: voir", f"Note{NBSP}: voir"),
        ("«citation»", f"«{NBSP}citation{NBSP}»"),
        ("« déjà »", f"«{NBSP}déjà{NBSP}»"),
        ("Quoi ?!", f"Quoi{NNBSP}?!"),
        # Left alone: times, URLs, query strings, text without such punctuation.
        ("à 10:30 sur https://x.org/a?b=c:d", "à 10:30 sur https://x.org/a?b=c:d"),
        ("rien à faire", "rien à faire"),
    ],
)
def test_typo_text(text: str, expected: str) -> None:
    assert typo_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Percent and units: a no-break space, only where the author typed a space.
        ("hausse de 12 % en un an", "hausse de 12~% en un an"),
        ("3,5 ‰ et 12%", "3,5~‰ et 12%"),
        ("il fera 14 °C à 9 h", "il fera 14~°C à 9~h"),
        ("à 90 km/h sur 100 m² pour 30 €", "à 90~km/h sur 100~m² pour 30~€"),
        ("3 mois et 2 ateliers", "3 mois et 2 ateliers"),  # a word, not a unit
        # Thousands: the author's groups are glued with narrow no-break spaces.
        ("1 500 participants", "1^500 participants"),
        ("12 345 678 € de budget", "12^345^678~€ de budget"),
        # ... and only a number of 5+ digits before a unit gets its groups.
        ("25000 € et 250000,50 €", "25^000~€ et 250^000,50~€"),
        # Left as they are: years, postal codes, codes, 4 digits, a group after 4 digits.
        ("en 2023, 1500 personnes", "en 2023, 1500 personnes"),
        ("62000 Arras et 75011 Paris", "62000 Arras et 75011 Paris"),
        ("25000 habitants, réf. A12345 €", "25000 habitants, réf. A12345~€"),
        ("depuis 2023 100 personnes", "depuis 2023 100 personnes"),
        ("1 5000", "1 5000"),
        # Times, dates and numbers.
        ("de 9 h 30 à 10 h", "de 9~h~30 à 10~h"),
        ("dimanche 14 mai 2023", "dimanche~14~mai~2023"),
        ("Dimanche 14 Mai", "Dimanche~14~Mai"),
        ("le 1er mai, lundi 1er juin", "le 1er~mai, lundi~1er~juin"),
        ("en mai 2023", "en mai~2023"),
        ("le 14 maisons", "le 14 maisons"),
        ("n° 3 et N° 12", "n°~3 et N°~12"),
        # Apostrophes between letters.
        ("l'action d'aujourd'hui", "l’action d’aujourd’hui"),
        ("'cité' et 'a'", "'cité' et 'a'"),  # quotes, not elisions
        # Left alone: times, URLs, query strings, addresses, entities quoted in a text.
        (
            "à 10:30 voir http://x.org/l'été?id=3 et l'été",
            "à 10:30 voir http://x.org/l'été?id=3 et l’été",
        ),
        ("www.x.org/l'été, jo'e@x.org", "www.x.org/l'été, jo'e@x.org"),
        ("Tom &amp; Jerry &#39;", "Tom &amp; Jerry &#39;"),
    ],
)
def test_typo_text_numbers_dates_apostrophes(text: str, expected: str) -> None:
    assert typo_text(text) == nb(expected)


def test_typo_text_leaves_other_languages_month_names_alone() -> None:
    # Only French words trigger the date rules, as a second guard behind is_french.
    assert typo_text("Sunday 14 May 2023") == "Sunday 14 May 2023"


def test_typo_html_leaves_attributes_code_and_tags() -> None:
    fragment = (
        "<p title=\"l'action : 12 %\">L'action de 12 % le 14 mai"
        " <code>x = 'a' ; 1 500</code> <pre>d'ici 9 h 30</pre>"
        " <a href=\"https://x.org/l'été?n=12 %\">d'ici</a></p>"
    )
    assert typo_html(fragment) == nb(
        '<p title="l\'action : 12 %">L’action de 12~% le 14~mai'
        " <code>x = 'a' ; 1 500</code> <pre>d'ici 9 h 30</pre>"
        ' <a href="https://x.org/l\'été?n=12 %">d’ici</a></p>'
    )
    assert typo_html("<p>l&#39;été</p>") == "<p>l’été</p>"


def test_typo_html_changes_text_nodes_only() -> None:
    fragment = (
        '<p title="a : b ; c ?">Tom &amp; Jerry ; <a href="https://x.org/?q=a:b&amp;r=1">lien'
        " !</a> 3 &lt; 4 : vrai</p>"
    )
    assert typo_html(fragment) == (
        f'<p title="a : b ; c ?">Tom &amp; Jerry{NNBSP}; <a href="https://x.org/?q=a:b&amp;r=1">'
        f"lien{NNBSP}!</a> 3 &lt; 4{NBSP}: vrai</p>"
    )


def _issue_of(items: list[Item], period: Period) -> Issue:
    section = Section(theme="autres", title="Autres", items=tuple(items))
    built = datetime(2024, 1, 2, tzinfo=PARIS)
    return Issue("x", period, (section,), (), built, Selection(items=()))


def _scripting_news() -> list[Item]:
    body = (ROOT / "tests/data/corpus/netnewswire/scriptingNews.rss").read_bytes()
    return list(parse_feed(body, SourceConfig(name="SN", url="http://scripting.com/rss.xml"), None))


def test_dates_show_their_year_when_it_is_not_the_issues(tmp_path: Path) -> None:
    # Scripting News of 26 June 2017 in the issue of week 2017-W26, and one of its posts
    # dated as if from November 2016: only that one shows its year.
    items = _scripting_news()[:3]
    assert [item.published.date() for item in items if item.published] == [date(2017, 6, 26)] * 3
    older = replace(items[2], published=datetime(2016, 11, 24, 12, tzinfo=PARIS))
    shown = [items[0], older]
    for language, this_year, other_year in (
        ("fr", nb("lundi~26~juin"), nb("jeudi~24~novembre~2016")),
        ("en", "Monday 26 June", "Thursday 24 November 2016"),
    ):
        result = render_issue(
            _issue_of(shown, week_period("2017-W26", PARIS)),
            make_config(tmp_path, language=language),
        )
        for output in (result.html, result.text, result.web):
            assert other_year in output
            assert this_year in output
            assert f"{this_year} 2017" not in output and f"{this_year}{NBSP}2017" not in output


def test_an_issue_across_two_years_dates_everything_with_its_year(tmp_path: Path) -> None:
    items = _scripting_news()[:1]
    january = replace(
        items[0], key="jan", title="Happy new year", published=datetime(2018, 1, 3, 9, tzinfo=PARIS)
    )
    period = range_period(date(2017, 6, 26), date(2018, 1, 5), PARIS)
    result = render_issue(_issue_of([items[0], january], period), make_config(tmp_path))
    for output in (result.html, result.text, result.web):
        assert nb("lundi~26~juin~2017") in output and nb("mercredi~3~janvier~2018") in output


def test_the_last_week_of_a_year_is_that_years() -> None:
    # 2023-W52 ends on 1 January 2024 at 00:00, exclusive: its days are all 2023's.
    period = week_period("2023-W52", PARIS)
    assert issue_year(period, PARIS) == 2023
    assert issue_year(week_period("2020-W53", PARIS), PARIS) is None  # 28 Dec to 3 Jan
    year = issue_year(period, PARIS)
    assert event_label(datetime(2023, 12, 30, tzinfo=PARIS), PARIS, FR, year) == nb(
        "samedi~30~décembre"
    )
    assert event_label(datetime(2024, 1, 10, tzinfo=PARIS), PARIS, FR, year) == (
        nb("mercredi~10~janvier~2024")
    )


def test_english_and_german_items_keep_their_spaces_in_a_french_issue(tmp_path: Path) -> None:
    when = datetime(2023, 5, 10, 9, tzinfo=PARIS)
    english = "It's 12 % of 1 500 people on 14 May: why? See 9 h 30"
    german = "Am 14 mai: 1 500 Teilnehmer, 12 % mehr! Das ist's"
    french = "L'action : 12 % de 1 500 personnes le 14 mai"
    items = [
        Item(
            key=lang,
            title=f"Titre {lang}",
            url=f"https://x.example.org/{lang}",
            published=when,
            source="S",
            summary_text=text,
            language=lang,
        )
        for lang, text in (("en", english), ("de", german), ("fr", french))
    ]
    result = render_issue(_issue_of(items, week_period("2023-W19", PARIS)), make_config(tmp_path))
    for output in (result.text, result.web, result.html):
        plain = output.replace("&#39;", "'")
        assert english in plain and german in plain
        assert nb("L’action~: 12~% de 1^500 personnes le 14~mai") in output
