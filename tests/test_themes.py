"""Themes stage: which section each item lands in and why, the agenda, the caps, overrides."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from digest.config import Config, parse_config
from digest.identity import item_key
from digest.models import Item, Section
from digest.overrides import Overrides, load_overrides
from digest.period import week_period
from digest.themes import Arrangement, arrange, assign_theme, fold, occurrences, stem, words

PARIS = ZoneInfo("Europe/Paris")
W19 = week_period("2023-W19", PARIS)

THEMES = """
themes:
  - id: climat
    title: Climat
    keywords: [climat, climatique, "gaz à effet de serre", "plan climat"]
    categories: [Climat]
  - id: participation
    title: Participation citoyenne
    keywords: [participation, concertation, démocratie, démocratique, participatif]
  - id: economie-circulaire
    title: Économie circulaire
    keywords: ["économie circulaire", réemploi, recyclage, déchet]
  - id: alimentation
    title: Alimentation
    keywords: [alimentation, "projet alimentaire territorial", agriculture]
  - id: energie
    title: Énergie
    keywords: [énergie, "rénovation énergétique", photovoltaïque]
    categories: ["Énergies renouvelables"]
  - id: biodiversite
    title: Biodiversité
    keywords: [biodiversité, "trame verte et bleue", haie, "zone humide"]
  - id: mobilite
    title: Mobilité
    keywords: [mobilité, vélo, covoiturage, "transport en commun"]
"""
SOURCES = """
sources:
  - name: Partenaire
    url: https://partenaire.example.org/feed.xml
  - name: Réseau Action Climat
    url: https://rac.example.org/feed.xml
    categories: {"Transition énergétique": energie}
  - name: Agence Bio
    url: https://bio.example.org/feed.xml
    theme: alimentation
"""
BARE = "sources:\n  - name: Partenaire\n    url: https://partenaire.example.org/feed.xml\n"


def make_config(
    tmp_path: Path, extra: str = "", themes: str = THEMES, lang: str = "fr", sources: str = SOURCES
) -> Config:
    text = f'newsletter:\n  title: "Lettre"\n  language: {lang}\n{sources}{themes}{extra}'
    return parse_config(text, tmp_path / "feeds.yaml")


def make_item(title: str, summary: str = "", **fields: Any) -> Item:
    source = fields.pop("source", "Partenaire")
    slug = hashlib.sha256(title.encode()).hexdigest()[:10]
    url = fields.pop("url", f"https://partenaire.example.org/actu/{slug}")
    fields.setdefault("published", datetime(2023, 5, 10, 9, 0, tzinfo=PARIS))
    fields["categories"] = tuple(fields.get("categories", ()))
    key = item_key(url, None, source, title, summary)
    return Item(key=key, title=title, url=url, source=source, summary_text=summary, **fields)


def theme_of(config: Config, item: Item) -> tuple[str, str]:
    source = next((s for s in config.sources if s.name == item.source), None)
    return assign_theme(item, config, source)


def ids(sections: Sequence[Section]) -> list[str]:
    return [section.theme for section in sections]


def titles(section: Section | None) -> list[str]:
    return [item.title for item in section.items] if section else []


# ------------------------------------------------------------------ words


def test_words_drop_elisions_accents_case_and_plural_marks() -> None:
    assert words("L'alimentation") == ("alimentation",)
    assert words("d’énergie qu'il") == ("energi", "il")
    assert words("ÉNERGIES") == words("énergie")
    assert words("démocratiques") == words("Démocratique")
    assert words("aujourd'hui") == ("aujourd", "hui")
    assert words("cœur") == ("coeur",)


def test_words_join_gender_and_number_but_not_word_families() -> None:
    forms = {words(w) for w in ("participatif", "participative", "participatives")}
    assert len(forms) == 1
    assert words("participation") not in forms
    assert words("territoriaux") == words("territoriale") == words("territorial")
    assert words("citoyennes") == words("citoyen")
    assert words("climatisation") != words("climat")
    assert words("climatique") != words("climat")


def test_inclusive_writing_keeps_the_word_it_is_built_on() -> None:
    # "habitant·es", "élu-es", "citoyen.nes": the first part matches `habitant`, `élu`...
    assert words("habitant·es")[0] == words("habitantes")[0] == words("habitant")[0]
    assert words("élu-es")[0] == words("élus")[0]
    assert words("citoyen.nes")[0] == words("citoyennes")[0]


def test_occurrences_count_whole_word_sequences() -> None:
    text = words("Le climat, le plan climat et le plan climat-air-énergie du plan")
    assert occurrences(words("plan climat"), text) == 2
    assert occurrences(words("climat"), text) == 3
    assert occurrences(words("climat plan"), text) == 0
    assert occurrences(words("plan"), text) == 3
    assert occurrences((), text) == 0


# ------------------------------------------------------------------ keywords


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        ("Le plan climat de la Métropole européenne de Lille adopté", "", "climat"),
        ("Vers une stratégie régionale de l'alimentation durable", "", "alimentation"),
        ("Les communes s'engagent pour l'économie circulaire", "", "economie-circulaire"),
        ("Trois intercommunalités misent sur les énergies locales", "", "energie"),
        ("Innovations démocratiques : un guide pour les élus", "", "participation"),
        ("Le prix d'énergie pèse sur les ménages du Nord", "", "energie"),
        ("BIODIVERSITE : LES HAIES DU BOCAGE AVESNOIS", "", "biodiversite"),
        ("Une nouvelle voie verte pour les vélos entre Lille et Roubaix", "", "mobilite"),
        ("Budgets participatifs : les habitants ont voté", "", "participation"),
        (
            "Appel à projets 2023 de l'ADEME",
            "Il soutient le réemploi et le recyclage des déchets du bâtiment.",
            "economie-circulaire",
        ),
        (
            "Restauration des zones humides de la plaine de la Scarpe",
            "Le Parc naturel régional lance un chantier participatif.",
            "biodiversite",
        ),
    ],
)
@pytest.mark.usefixtures("english_staff")
def test_keywords_place_realistic_french_items(
    tmp_path: Path, title: str, summary: str, expected: str
) -> None:
    theme, reason = theme_of(make_config(tmp_path), make_item(title, summary))
    assert theme == expected
    assert reason.startswith("keyword")


@pytest.mark.usefixtures("english_staff")
def test_reason_names_the_matching_keywords(tmp_path: Path) -> None:
    item = make_item("Appel à projets", "Réemploi, recyclage et déchets : le réemploi d'abord.")
    assert theme_of(make_config(tmp_path), item) == (
        "economie-circulaire",
        "keywords 'réemploi', 'recyclage', 'déchet'",
    )


def test_reasons_are_in_the_staff_language(tmp_path: Path) -> None:
    """digest.json's reasons are for staff: French unless DIGEST_LANG says otherwise."""
    config = make_config(tmp_path)
    item = make_item("Appel à projets", "Réemploi, recyclage et déchets : le réemploi d'abord.")
    assert theme_of(config, item)[1] == "mots-clés 'réemploi', 'recyclage', 'déchet'"
    assert theme_of(config, make_item("La Trame Verte et Bleue s'étend"))[1] == (
        "mot-clé 'trame verte et bleue'"
    )
    velo = make_item("Un atelier vélo à Arras", theme="velo")
    assert theme_of(config, velo)[1] == (
        "mot-clé 'vélo' ; le thème 'velo' de l'en-tête n'est pas un thème configuré"
    )
    assert theme_of(config, make_item("Assemblée générale")) == ("autres", "section par défaut")
    event = make_item("Forum", event_date=datetime(2023, 5, 20, 10, tzinfo=PARIS))
    pinned = make_item("Vélo A")
    overrides = Overrides(pin=(str(pinned.url),), path=Path("2023-W19.md"))
    result = arrange([event, pinned], config, W19, overrides)
    assert result.featured is not None and result.agenda is not None
    assert result.featured.reasons[pinned.key] == "mis à la une par 2023-W19.md"
    assert (
        result.agenda.reasons[event.key] == "événement le 2023-05-20, après la période de la lettre"
    )


@pytest.mark.parametrize(
    "title",
    [
        "Canicule : la climatisation des bureaux en question",
        "Assemblée générale de l'association le 12 juin",
        "La trame bleue et verte",  # a phrase keyword needs its words in order
        "Offre d'emploi : chargé·e de communication",
    ],
)
@pytest.mark.usefixtures("english_staff")
def test_items_that_match_nothing_fall_back(tmp_path: Path, title: str) -> None:
    assert theme_of(make_config(tmp_path), make_item(title)) == ("autres", "fallback")


@pytest.mark.usefixtures("english_staff")
def test_phrase_keyword_matches_across_elisions_and_case(tmp_path: Path) -> None:
    item = make_item("La Trame Verte et Bleue du Douaisis s'étend")
    assert theme_of(make_config(tmp_path), item) == (
        "biodiversite",
        "keyword 'trame verte et bleue'",
    )


def test_a_title_match_weighs_more_than_two_summary_matches(tmp_path: Path) -> None:
    item = make_item(
        "Covoiturage : un nouveau service dans l'Oise",
        "Moins d'énergie dépensée : l'énergie économisée profite à tous.",
    )
    assert theme_of(make_config(tmp_path), item)[0] == "mobilite"
    busier = make_item(
        "Covoiturage : un nouveau service dans l'Oise",
        "Énergie, énergie, énergie et encore énergie.",
    )
    assert theme_of(make_config(tmp_path), busier)[0] == "energie"


CLIMATE = "  - id: climat\n    title: Climat\n    keywords: [climat]\n"
NATURE = "  - id: biodiversite\n    title: Biodiversité\n    keywords: [biodiversité]\n"


@pytest.mark.parametrize(
    ("themes", "expected"),
    [(CLIMATE + NATURE, "climat"), (NATURE + CLIMATE, "biodiversite")],
)
def test_ties_go_to_the_theme_listed_first(tmp_path: Path, themes: str, expected: str) -> None:
    config = make_config(tmp_path, themes="themes:\n" + themes, sources=BARE)
    item = make_item("Climat et biodiversité : même combat")
    assert theme_of(config, item)[0] == expected


def test_participatif_is_not_participation(tmp_path: Path) -> None:
    themes = "themes:\n  - id: participation\n    title: P\n    keywords: [participation]\n"
    config = make_config(tmp_path, themes=themes, sources=BARE)
    assert theme_of(config, make_item("Les budgets participatifs de Roubaix"))[0] == "autres"
    assert theme_of(config, make_item("La participation des habitants"))[0] == "participation"
    assert theme_of(config, make_item("Participations croisées"))[0] == "participation"


# ------------------------------------------------------------------ authority order


@pytest.mark.usefixtures("english_staff")
def test_theme_category_matches_case_and_accent_insensitively(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    item = make_item("Retour sur la journée du 4 mai", categories=["CLIMAT"])
    assert theme_of(config, item) == ("climat", "category 'CLIMAT'")
    solar = make_item("Un cadastre solaire", categories=["Agenda", "energies renouvelables"])
    assert theme_of(config, solar) == ("energie", "category 'energies renouvelables'")


@pytest.mark.usefixtures("english_staff")
def test_category_beats_keywords_and_source_mapping_is_per_source(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fields: dict[str, Any] = {"categories": ["Transition energetique"]}
    rac = make_item("Le climat au cœur du débat", source="Réseau Action Climat", **fields)
    assert theme_of(config, rac) == (
        "energie",
        "category 'Transition energetique' (source 'Réseau Action Climat')",
    )
    other = make_item("Le climat au cœur du débat", source="Partenaire", **fields)
    assert theme_of(config, other) == ("climat", "keyword 'climat'")


@pytest.mark.usefixtures("english_staff")
def test_front_matter_beats_everything_by_id_or_title(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    item = make_item("Vélo et climat", categories=["Climat"], theme="participation")
    assert theme_of(config, item) == ("participation", "front matter")
    by_title = make_item("Vélo et climat", theme="participation citoyenne")
    assert theme_of(config, by_title) == ("participation", "front matter")


@pytest.mark.usefixtures("english_staff")
def test_unknown_front_matter_theme_falls_through_and_says_so(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    item = make_item("Un atelier vélo à Arras", theme="velo")
    assert theme_of(config, item) == (
        "mobilite",
        "keyword 'vélo'; front matter theme 'velo' is not a configured theme",
    )


@pytest.mark.usefixtures("english_staff")
def test_source_default_comes_after_keywords(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    plain = make_item("Rencontre annuelle des producteurs", source="Agence Bio")
    assert theme_of(config, plain) == ("alimentation", "source default")
    keyword = make_item("Des vélos cargo pour livrer les paniers", source="Agence Bio")
    assert theme_of(config, keyword)[0] == "mobilite"


# ------------------------------------------------------------------ arrange


def arranged(
    config: Config, items: Sequence[Item], overrides: Overrides | None = None
) -> Arrangement:
    return arrange(items, config, W19, overrides or Overrides())


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2023, 5, day, hour, 0, tzinfo=PARIS)


@pytest.mark.usefixtures("english_staff")
def test_sections_follow_configured_order_with_fallback_last(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    items = [
        make_item("Assemblée générale"),
        make_item("Un atelier vélo"),
        make_item("Le plan climat adopté"),
    ]
    result = arranged(config, items)
    assert ids(result.sections) == ["climat", "mobilite", "autres"]
    assert [s.title for s in result.sections] == ["Climat", "Mobilité", "Autres actualités"]
    assert result.sections[2].reasons == {items[0].key: "fallback"}
    assert result.sections[1].reasons == {items[1].key: "keyword 'vélo'"}
    assert result.featured is None and result.agenda is None and result.trimmed == 0


def test_fallback_title_follows_language_and_config(tmp_path: Path) -> None:
    item = [make_item("Assemblée générale")]
    english = arranged(make_config(tmp_path, lang="en"), item)
    assert english.sections[0].title == "Other news"
    custom = make_config(tmp_path, extra='issue:\n  fallback_title: "En bref"\n')
    assert arranged(custom, item).sections[0].title == "En bref"


def test_recaps_come_first_then_newest_first(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    items = [
        make_item("Vélo 1", published=at(8)),
        make_item("Vélo 2", published=at(12)),
        make_item("Vélo recap", published=at(9), origin="file", source="Récits"),
        make_item("Vélo 3", published=at(10)),
    ]
    result = arranged(config, items)
    assert titles(result.sections[0]) == ["Vélo recap", "Vélo 2", "Vélo 3", "Vélo 1"]


@pytest.mark.usefixtures("english_staff")
def test_agenda_holds_future_events_in_date_order_only_once(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    items = [
        make_item("Atelier vélo", event_date=at(30, 14)),
        make_item("Forum climat", event_date=at(16, 18)),
        make_item("Conférence climat", event_date=at(11, 18)),  # during the week: not upcoming
        make_item("Fête de la nature", event_date=at(20, 10)),
    ]
    result = arranged(config, items)
    assert result.agenda is not None
    assert result.agenda.title == "Agenda"
    assert titles(result.agenda) == ["Forum climat", "Fête de la nature", "Atelier vélo"]
    assert result.agenda.reasons[items[1].key] == "event on 2023-05-16, after the issue period"
    assert titles(result.sections[0]) == ["Conférence climat"]
    assert ids(result.sections) == ["climat"]


def test_agenda_treats_date_only_events_as_local(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    monday_after = datetime(2023, 5, 15, 0, 0)  # naive: the period end, local time
    result = arranged(config, [make_item("Forum", event_date=monday_after)])
    assert titles(result.agenda) == ["Forum"]


def test_section_cap_drops_oldest_feed_items_never_recaps_first(tmp_path: Path) -> None:
    config = make_config(tmp_path, extra="issue:\n  max_per_section: 3\n")
    items = [make_item(f"Vélo {day}", published=at(day)) for day in (8, 9, 10, 11, 12)]
    items.append(make_item("Vélo recap", published=at(8), origin="file", source="Récits"))
    result = arranged(config, items)
    assert titles(result.sections[0]) == ["Vélo recap", "Vélo 12", "Vélo 11"]
    assert result.trimmed == 3
    assert set(result.trimmed_keys) == {items[0].key, items[1].key, items[2].key}
    assert result.warnings == (
        "3 articles laissés de côté par les plafonds (issue.max_per_section 3, issue.max_items 40)",
    )


def test_agenda_cap_keeps_the_soonest_events(tmp_path: Path) -> None:
    config = make_config(tmp_path, extra="issue:\n  max_per_section: 2\n")
    items = [make_item(f"Forum {day}", event_date=at(day)) for day in (25, 16, 20)]
    assert titles(arranged(config, items).agenda) == ["Forum 16", "Forum 20"]


def test_issue_cap_trims_the_busiest_section_first(tmp_path: Path) -> None:
    config = make_config(tmp_path, extra="issue:\n  max_items: 4\n")
    pinned = make_item("Assemblée générale")
    items = [
        pinned,
        *(make_item(f"Climat {d}", published=at(d)) for d in (8, 9, 10)),
        *(make_item(f"Vélo {d}", published=at(d)) for d in (11, 12)),
    ]
    result = arranged(config, items, Overrides(pin=(str(pinned.url),)))
    assert titles(result.featured) == ["Assemblée générale"]
    # 6 items, room for 4 with the pin: Climat (3 items) loses its oldest, then on a 2-2
    # tie the section shown last (Mobilité) loses its oldest.
    assert titles(result.sections[0]) == ["Climat 10", "Climat 9"]
    assert titles(result.sections[1]) == ["Vélo 12"]
    assert result.trimmed == 2


def test_issue_cap_drops_feed_items_before_any_recap(tmp_path: Path) -> None:
    config = make_config(tmp_path, extra="issue:\n  max_items: 2\n")
    recaps = [
        make_item(f"Climat recap {d}", published=at(d), origin="file", source="Récits")
        for d in (8, 9, 10)
    ]
    feeds = [make_item(f"Vélo {d}", published=at(d)) for d in (11, 12)]
    result = arranged(config, [*recaps, *feeds])
    assert ids(result.sections) == ["climat"]
    assert titles(result.sections[0]) == ["Climat recap 10", "Climat recap 9"]
    assert result.trimmed == 3


@pytest.mark.usefixtures("english_staff")
def test_pins_are_never_trimmed(tmp_path: Path) -> None:
    config = make_config(tmp_path, extra="issue:\n  max_items: 1\n")
    items = [make_item("Vélo A"), make_item("Vélo B"), make_item("Vélo C")]
    pins = (str(items[2].url), str(items[0].url))
    result = arranged(config, items, Overrides(pin=pins, path=Path("2023-W19.md")))
    assert titles(result.featured) == ["Vélo C", "Vélo A"]
    assert result.featured is not None and result.featured.title == "À la une"
    assert result.featured.reasons[items[2].key] == "pinned by 2023-W19.md"
    assert result.sections == () and result.trimmed == 1


@pytest.mark.usefixtures("english_staff")
def test_overrides_exclude_and_move(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    items = [
        make_item("Le plan climat adopté"),
        make_item("Un atelier vélo", theme="mobilite"),
        make_item("Forum", event_date=at(20)),
    ]
    overrides = Overrides(
        exclude=(str(items[0].url),),
        move={str(items[1].url): "participation", str(items[2].url): "autres"},
        path=Path("2023-W19.md"),
    )
    result = arranged(config, items, overrides)
    assert ids(result.sections) == ["participation", "autres"]
    assert result.sections[0].reasons == {items[1].key: "moved by 2023-W19.md"}
    assert titles(result.sections[1]) == ["Forum"] and result.agenda is None
    assert result.warnings == ()


def test_override_urls_match_whatever_the_tracking_and_warn_when_unmatched(
    tmp_path: Path,
) -> None:
    from digest.urls import canonical_url

    config = make_config(tmp_path)
    item = make_item("Vélo", url="https://Partenaire.example.org/velo?utm_source=rss#top")
    stray = "https://partenaire.example.org/ailleurs"
    overrides = Overrides(
        pin=(canonical_url("https://partenaire.example.org/velo?utm_medium=x"),),
        exclude=(stray,),
        path=Path("2023-W19.md"),
    )
    result = arranged(config, [item], overrides)
    assert titles(result.featured) == ["Vélo"] and result.sections == ()
    assert result.warnings == (
        f"2023-W19.md : exclude {stray} ne correspond à aucun article de 2023-W19",
    )


@pytest.mark.usefixtures("english_staff")
def test_recaps_are_pinned_and_moved_by_file_name(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    recap = make_item("Retour sur la journée", url=None, origin="file", guid="file:2023/journee")
    other = make_item("Atelier", url=None, origin="file", guid="file:atelier-velo")
    overrides = Overrides(
        pin=("recap:journee",), move={"recap:atelier-velo": "climat"}, path=Path("x.md")
    )
    result = arranged(config, [recap, other], overrides)
    assert titles(result.featured) == ["Retour sur la journée"]
    assert titles(result.sections[0]) == ["Atelier"]
    assert result.sections[0].reasons[other.key] == "moved by x.md"


def test_unknown_front_matter_theme_is_a_warning(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    result = arranged(config, [make_item("Atelier", theme="ateliers", source="Récits")])
    assert result.warnings == (
        "« Atelier » (Récits) : le thème « ateliers » de l'en-tête n'est pas un thème configuré ;"
        " l'article est classé par les autres règles",
    )
    english = make_config(tmp_path, lang="en")
    result = arranged(english, [make_item("Atelier", theme="ateliers", source="Récits")])
    assert result.warnings == (
        "'Atelier' (Récits): front matter theme 'ateliers' is not a configured theme;"
        " the item was placed by the other rules",
    )


def test_a_configured_autres_theme_takes_the_fallback_items(tmp_path: Path) -> None:
    themes = THEMES + "  - id: autres\n    title: En bref\n"
    config = make_config(tmp_path, themes=themes)
    result = arranged(config, [make_item("Assemblée générale"), make_item("Vélo")])
    assert ids(result.sections) == ["mobilite", "autres"]
    assert result.sections[1].title == "En bref"


def test_many_items_stay_within_the_caps(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    subjects = ["climat", "vélo", "haie", "énergie", "déchet", "concertation", "réunion"]
    items = [
        make_item(f"{subjects[n % 7]} n°{n}", published=at(8) + timedelta(minutes=n))
        for n in range(300)
    ]
    result = arranged(config, items)
    counts = [len(section.items) for section in result.sections]
    assert sum(counts) == config.issue.max_items
    assert max(counts) <= config.issue.max_per_section
    assert result.trimmed == 300 - config.issue.max_items


@pytest.mark.usefixtures("english_staff")
def test_the_shipped_recap_lands_in_participation(tmp_path: Path) -> None:
    from digest.sources.files import read_recaps

    recaps = Path(__file__).resolve().parents[1] / "content" / "recaps"
    sources = f"sources:\n  - name: Récits\n    path: {recaps}\n"
    config = make_config(tmp_path, sources=sources)
    result = read_recaps(config.sources[0], PARIS)
    recap = next(i for i in result.items if "Territoires Participatifs" in i.title)
    assert theme_of(config, recap) == ("participation", "keywords 'participatif', 'participation'")
    arrangement = arranged(config, [recap])
    assert ids(arrangement.sections) == ["participation"]


def test_the_shipped_overrides_pin_an_item_of_the_shipped_snapshot() -> None:
    from digest.config import load_config
    from digest.sources.feeds import read_snapshot

    config = load_config(Path(__file__).resolve().parents[1] / "feeds.yaml")
    partner = next(s for s in config.sources if s.name == "Réseau Transition Hauts-de-France")
    items = read_snapshot(partner, config.fetch.max_bytes).items
    result = arranged(config, items, load_overrides(config, "2023-W19"))
    assert titles(result.featured) == [
        "Retour sur la 2e journée régionale du réseau des Territoires Participatifs"
    ]
    assert result.warnings == ()


def test_words_match_the_two_step_reading_on_random_text() -> None:
    """One regex drops elisions and finds words; it reads like removing the elisions first."""
    elision = re.compile(r"\b(?:jusqu|lorsqu|puisqu|quoiqu|presqu|qu|[cdjlmnst])'")
    token = re.compile(r"[a-z0-9]+")
    rng = random.Random(7)
    for alphabet in ("lqudjcst'’ aé ßøx1-", "jusqulorsprei'’´ 9_Éœ"):
        for _ in range(20000):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
            expected = tuple(stem(t) for t in token.findall(elision.sub(" ", fold(text))))
            assert words(text) == expected, text
