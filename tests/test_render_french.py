"""Render's French: Babel dates put together the French way, and typography on text only."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from digest.i18n import messages
from digest.period import range_period, week_period
from digest.render.dates import day_label, event_label, period_label
from digest.render.typography import typo_html, typo_text
from tests.golden_plugin import PARIS

FR, EN = messages("fr"), messages("en")
NNBSP, NBSP = "\u202f", "\u00a0"


@pytest.mark.parametrize(
    ("week", "french", "english"),
    [
        ("2023-W19", "Semaine du 8 au 14 mai 2023", "Week of 8–14 May 2023"),
        ("2023-W22", "Semaine du 29 mai au 4 juin 2023", "Week of 29 May – 4 June 2023"),
        (
            "2022-W52",
            "Semaine du 26 décembre 2022 au 1er janvier 2023",
            "Week of 26 December 2022 – 1 January 2023",
        ),
        # The week in which France leaves summer time: still Monday to Sunday.
        ("2023-W43", "Semaine du 23 au 29 octobre 2023", "Week of 23–29 October 2023"),
    ],
)
def test_week_labels(week: str, french: str, english: str) -> None:
    period = week_period(week, PARIS)
    assert period_label(period, PARIS, FR) == french
    assert period_label(period, PARIS, EN) == english


def test_other_periods() -> None:
    assert period_label(range_period(date(2023, 5, 1), date(2023, 5, 20), PARIS), PARIS, FR) == (
        "Du 1er au 20 mai 2023"
    )
    assert period_label(range_period(date(2023, 5, 11), date(2023, 5, 11), PARIS), PARIS, FR) == (
        "Le 11 mai 2023"
    )


def test_day_and_event_labels() -> None:
    late = datetime(2023, 5, 11, 23, 30, tzinfo=PARIS)
    assert day_label(late, PARIS, FR, year=False) == "jeudi 11 mai"
    assert day_label(late, PARIS, EN, year=False) == "Thursday 11 May"
    # A UTC time is shown on the newsletter's own calendar day.
    utc = datetime.fromisoformat("2023-05-11T22:30:00+00:00")
    assert day_label(utc, PARIS, FR, year=False) == "vendredi 12 mai"
    event = datetime(2024, 2, 1, 9, 5, tzinfo=PARIS)
    assert event_label(event, PARIS, FR, 2023) == "jeudi 1er février 2024, 9 h 05"
    assert event_label(event, PARIS, EN, 2024) == "Thursday 1 February, 9:05"
    assert event_label(datetime(2023, 6, 1, tzinfo=PARIS), PARIS, FR, 2023) == "jeudi 1er juin"


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


def test_typo_html_changes_text_nodes_only() -> None:
    fragment = (
        '<p title="a : b ; c ?">Tom &amp; Jerry ; <a href="https://x.org/?q=a:b&amp;r=1">lien'
        " !</a> 3 &lt; 4 : vrai</p>"
    )
    assert typo_html(fragment) == (
        f'<p title="a : b ; c ?">Tom &amp; Jerry{NNBSP}; <a href="https://x.org/?q=a:b&amp;r=1">'
        f"lien{NNBSP}!</a> 3 &lt; 4{NBSP}: vrai</p>"
    )
