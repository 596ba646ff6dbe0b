"""Every word a subscriber reads that is not content: one catalog per language.

Templates get the catalog as `words`; Python code formats dates and counts with the same
entries, so a wording change is one edit here (or an override template, for layout).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_FR: dict[str, str] = {
    "locale": "fr_FR",
    "week": "Semaine du {range}",
    "period": "Du {range}",
    "day_period": "Le {day}",
    "subject": "{title} — {period}",
    # French spaces are written out (U+202F before ! ? ;, U+00A0 before :) as typography
    # applies to content, not to this catalog.
    # Date ranges: {d1}/{d2} day numbers, {m1}/{m2} month names, {y1}/{y2} years.
    "range_same_month": "{d1} au {d2} {m2} {y2}",
    "range_same_year": "{d1} {m1} au {d2} {m2} {y2}",
    "range_other_year": "{d1} {m1} {y1} au {d2} {m2} {y2}",
    "day": "{weekday} {d} {month}",
    "day_year": "{weekday} {d} {month} {year}",
    "time": "{h} h {mm}",
    "time_hour": "{h} h",
    "first_day": "1er",
    "label_sep": "\u00a0: ",
    "featured": "À la une",
    "edito": "Édito",
    "agenda": "Agenda",
    "view_online": "Voir dans le navigateur",
    "read_more": "Lire",
    "subscribe_title": "Abonnez-vous\u202f!",
    "subscribe_text": "Recevez le meilleur de l'information régionale DD & Climat",
    "subscribe_button": "S'inscrire",
    "unsubscribe": "Se désinscrire",
    "why": "Vous recevez cette lettre parce que vous y êtes abonné·e.",
    "sent_by": "Envoyée par",
    "trimmed_one": "1 autre article est à lire dans la version en ligne.",
    "trimmed_many": "{n} autres articles sont à lire dans la version en ligne.",
    "archive": "Archives de la lettre",
    "image_alt": "Illustration\u00a0: {title}",
    "logo_alt": "Logo de {title}",
}

_EN: dict[str, str] = {
    "locale": "en_GB",
    "week": "Week of {range}",
    "period": "{range}",
    "day_period": "{day}",
    "subject": "{title} — {period}",
    "range_same_month": "{d1}–{d2} {m2} {y2}",
    "range_same_year": "{d1} {m1} – {d2} {m2} {y2}",
    "range_other_year": "{d1} {m1} {y1} – {d2} {m2} {y2}",
    "day": "{weekday} {d} {month}",
    "day_year": "{weekday} {d} {month} {year}",
    "time": "{h}:{mm}",
    "time_hour": "{h}:00",
    "first_day": "1",
    "label_sep": ": ",
    "featured": "Top stories",
    "edito": "Editorial",
    "agenda": "Coming up",
    "view_online": "View in your browser",
    "read_more": "Read",
    "subscribe_title": "Subscribe!",
    "subscribe_text": "Get the best of regional sustainability and climate news",
    "subscribe_button": "Sign up",
    "unsubscribe": "Unsubscribe",
    "why": "You receive this newsletter because you subscribed to it.",
    "sent_by": "Sent by",
    "trimmed_one": "1 more article is in the online version.",
    "trimmed_many": "{n} more articles are in the online version.",
    "archive": "Newsletter archive",
    "image_alt": "Illustration: {title}",
    "logo_alt": "{title} logo",
}

CATALOGS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"fr": MappingProxyType(_FR), "en": MappingProxyType(_EN)}
)


def words_for(language: str) -> Mapping[str, str]:
    """The catalog of `language`; French for anything config did not validate as English."""
    return CATALOGS.get(language, CATALOGS["fr"])
