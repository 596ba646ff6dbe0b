"""Select: the date rule, cross-source duplicates, the period and already-sent items."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.identity import item_key
from digest.models import Item
from digest.period import week_period
from digest.select import date_items, dedupe, select, similarity, title_tokens

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2023, 5, 12, 9, 0, tzinfo=PARIS)
W19 = week_period("2023-W19", PARIS)


def make(title: str, url: str | None, source: str = "Partenaire", **fields: object) -> Item:
    published = fields.pop("published", datetime(2023, 5, 10, 12, 0, tzinfo=PARIS))
    return Item(
        key=item_key(url, None, source, title, ""),
        title=title,
        url=url,
        published=published,  # type: ignore[arg-type]
        source=source,
        **fields,  # type: ignore[arg-type]
    )


def test_undated_item_takes_first_seen_time() -> None:
    undated = make("Sans date", "https://a.org/1", published=None)
    seen = NOW - timedelta(days=1)
    (dated,) = date_items([undated], {undated.key: seen}, NOW, 2.0)
    assert dated.published == seen
    assert dated.date_origin == "first_seen"


def test_future_date_beyond_tolerance_is_not_trusted() -> None:
    future = make("Événement", "https://a.org/2", published=NOW + timedelta(days=30))
    near = make("Presque maintenant", "https://a.org/3", published=NOW + timedelta(hours=1))
    dated = date_items([future, near], {}, NOW, 2.0)
    assert dated[0].published == NOW and dated[0].date_origin == "first_seen"
    assert dated[1].published == NOW + timedelta(hours=1) and dated[1].date_origin == "source"


def test_ordinals_and_accents_do_not_change_title_identity() -> None:
    a = title_tokens("Retour sur la deuxième journée régionale du réseau des Territoires")
    b = title_tokens("Retour sur la 2e journee regionale du reseau des territoires")
    c = title_tokens("Retour sur la 2ème journée régionale du réseau des Territoires")
    assert a == b == c
    assert "2" in a and "la" not in a


def test_same_canonical_url_merges_and_keeps_the_richest_version() -> None:
    recap = make(
        "Retour sur la deuxième journée régionale du réseau des Territoires Participatifs",
        "https://www.cerdd.org/retour-journee",
        source="Récits",
        origin="file",
        summary_text="35 participant-es se sont réuni-es le 13 avril 2023 à Arras " * 3,
        published=datetime(2023, 5, 11, 0, 0, tzinfo=PARIS),
    )
    relay = make(
        "Journée des Territoires Participatifs",
        "HTTPS://WWW.Cerdd.org/retour-journee?utm_source=rss&utm_medium=feed#top",
        source="Réseau Transition",
        image="https://partner.org/photo.jpg",
        categories=("Participation",),
        published=datetime(2023, 5, 12, 8, 0, tzinfo=PARIS),
    )
    merged, count = dedupe([relay, recap], 0.85)
    assert count == 1
    ((item, keys),) = merged
    assert item.source == "Récits" and item.origin == "file"
    assert item.image == "https://partner.org/photo.jpg"
    assert item.categories == ("Participation",)
    assert item.also_in == ("Réseau Transition",)
    assert item.published == datetime(2023, 5, 11, 0, 0, tzinfo=PARIS)
    assert set(keys) == {recap.key, relay.key}


def test_the_teams_recap_wins_and_borrows_the_relays_link() -> None:
    title = "Retour sur la deuxième journée régionale du réseau des Territoires Participatifs"
    recap = make(title, None, source="Le Cerdd", origin="file", summary_text="35 participant-es")
    relay = make(title.replace("deuxième", "2e"), "https://partenaire.org/r", source="Réseau")
    ((item, _keys),) = dedupe([relay, recap], 0.85)[0]
    assert item.title == title and item.summary_text == "35 participant-es"
    assert item.url == "https://partenaire.org/r" and item.key == recap.key


def test_partners_tracking_parameters_are_not_passed_on() -> None:
    relay = make("Un relais", "https://p.org/a?id=2&utm_source=rss&xtor=RSS-1#suite", source="P")
    ((item, _keys),) = dedupe([relay], 0.85)[0]
    assert item.url == "https://p.org/a?id=2#suite"


def test_near_identical_titles_across_sources_merge() -> None:
    a = make(
        "Retour sur la deuxième journée régionale du réseau des Territoires Participatifs",
        "https://www.cerdd.org/a",
        source="Récits",
    )
    b = make(
        "Retour sur la 2e journée régionale du réseau des Territoires Participatifs !",
        "https://partenaire.org/b",
        source="Partenaire",
    )
    merged, count = dedupe([a, b], 0.85)
    assert count == 1 and len(merged) == 1


def test_alike_titles_in_one_source_or_too_short_stay_apart() -> None:
    same_source = [
        make("Les brèves de la semaine régionale climat", "https://a.org/1"),
        make("Les brèves de la semaine régionale climat", "https://a.org/2"),
    ]
    short = [make("Agenda", "https://a.org/3"), make("Agenda", "https://b.org/3", source="B")]
    assert dedupe(same_source, 0.85)[1] == 0
    assert dedupe(short, 0.85)[1] == 0


def test_titles_with_different_numbers_are_different_news() -> None:
    a = make("Retour sur la 2e journée régionale du réseau des Territoires", "https://a.org/1")
    b = make("Retour sur la 3e journée régionale du réseau des Territoires", "https://b.org/1", "B")
    c = make("Retour sur la deuxième journée régionale du réseau des Territoires", "https://c", "C")
    merged, count = dedupe([a, b, c], 0.6)
    assert count == 1
    assert {frozenset(keys) for _item, keys in merged} == {
        frozenset({a.key, c.key}),
        frozenset({b.key}),
    }


def test_different_news_are_not_merged() -> None:
    a = make("Lancement du plan climat de la métropole lilloise", "https://a.org/1")
    b = make("Bilan du plan vélo de la métropole lilloise", "https://b.org/1", source="B")
    assert dedupe([a, b], 0.85)[1] == 0


def test_select_keeps_period_drops_sent_and_sorts_newest_first() -> None:
    old = make(
        "Ancienne nouvelle", "https://a.org/old", published=datetime(2023, 5, 1, tzinfo=PARIS)
    )
    sent = make("Déjà envoyée la semaine dernière", "https://a.org/sent")
    early = make("Lundi", "https://a.org/mon", published=datetime(2023, 5, 8, 0, 0, tzinfo=PARIS))
    late = make(
        "Dimanche soir", "https://a.org/sun", published=datetime(2023, 5, 14, 23, 59, tzinfo=PARIS)
    )
    next_week = make(
        "Lundi suivant", "https://a.org/next", published=datetime(2023, 5, 15, tzinfo=PARIS)
    )
    result = select([old, sent, early, late, next_week], W19, {sent.key}, 0.85)
    assert [i.title for i in result.items] == ["Dimanche soir", "Lundi"]
    assert result.out_of_period == 2
    assert result.already_sent == 1


def test_a_sent_url_is_not_sent_again_under_tracking_parameters() -> None:
    sent = make("Retour sur la journée régionale climat à Lille", "https://www.cerdd.org/x")
    relay = make("Journée climat : le retour", "https://WWW.cerdd.org/x?utm_campaign=y#a", "B")
    result = select([relay], W19, {sent.key}, 0.85)
    assert relay.key == sent.key
    assert result.items == () and result.already_sent == 1


def test_a_sent_version_hides_its_duplicates_in_the_same_build() -> None:
    title = "Retour sur la journée régionale des acteurs du climat à Lille"
    recap = make(title, "https://www.cerdd.org/x", source="Récits", origin="file")
    relay = make(title, "https://partenaire.org/y", source="B")
    result = select([recap, relay], W19, {relay.key}, 0.85)
    assert result.items == () and result.already_sent == 1


def test_relay_of_last_weeks_recap_does_not_come_back() -> None:
    recap = make(
        "Retour sur la journée régionale des Ambassadeurs du développement durable",
        "https://www.cerdd.org/ambassadeurs",
        source="Récits",
        published=datetime(2023, 5, 4, tzinfo=PARIS),
    )
    relay = make(
        "Retour sur la journée régionale des Ambassadeurs du développement durable",
        "https://partenaire.org/relais",
        source="Partenaire",
        published=datetime(2023, 5, 9, tzinfo=PARIS),
    )
    result = select([recap, relay], W19, set(), 0.85)
    assert result.items == () and result.out_of_period == 1 and result.duplicates_merged == 1


def test_dedupe_scales_without_comparing_every_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    # 3,000 distinct titles share common words; all must stay apart, none may be lost, and
    # the rare-word filter must keep the comparisons near linear: every pair of sources
    # would be about 3.9 million.
    import digest.select

    compared = []

    def counted(a: frozenset[str], b: frozenset[str]) -> float:
        compared.append(1)
        return similarity(a, b)

    monkeypatch.setattr(digest.select, "similarity", counted)

    # Titles without digits (numbers would keep them apart before any comparison): common
    # words, a made-up word shared by two titles (their rarest word, so the pair is
    # compared) and one shared by 60 (so the two are not alike enough to merge).
    def word(n: int, end: str) -> str:
        return "".join(chr(ord("a") + int(d)) for d in str(n)) + end

    items = [
        make(
            f"Actualité régionale sur le climat {word(n // 2, 'z')} et la {word(n % 50, 'y')}",
            f"https://a.org/{n}",
            source=f"S{n % 7}",
        )
        for n in range(3000)
    ]
    merged, count = dedupe(items, 0.85)
    assert count == 0 and len(merged) == 3000
    assert 0 < len(compared) <= 10 * len(items), len(compared)


def test_rare_word_filter_finds_every_pair_brute_force_finds() -> None:
    import random

    from digest.select import similarity

    rng = random.Random(7)
    vocabulary = [f"mot{n}" for n in range(40)] + ["2023", "12", "3e"]
    items = []
    for n in range(400):
        words = rng.sample(vocabulary, rng.randint(4, 9))
        if n % 3 == 0 and items:  # a near-copy of an earlier title, from another source
            words = items[rng.randrange(len(items))].title.split()
            words[rng.randrange(len(words))] = rng.choice(vocabulary)
        items.append(make(" ".join(words), f"https://s{n}.org/{n}", source=f"S{n}"))
    for threshold in (0.6, 0.85):
        groups = {frozenset(keys) for _item, keys in dedupe(items, threshold)[0]}
        tokens = [title_tokens(i.title) for i in items]
        for a in range(len(items)):
            for b in range(a + 1, len(items)):
                same_numbers = {w for w in tokens[a] if w.isdigit()} == {
                    w for w in tokens[b] if w.isdigit()
                }
                alike = similarity(tokens[a], tokens[b]) >= threshold
                long_enough = min(len(tokens[a]), len(tokens[b])) >= 4
                if long_enough and same_numbers and alike:
                    assert any({items[a].key, items[b].key} <= g for g in groups)
