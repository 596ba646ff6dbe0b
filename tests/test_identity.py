"""Item identity on real feeds: a linkblog's posts are not duplicates, and every other
item keeps the key it had before fragments could be part of one (keys are stored)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from digest.config import SourceConfig
from digest.identity import distinguish_fragments, item_key
from digest.models import Item
from digest.overrides import move_targets, parse_overrides
from digest.period import week_period
from digest.select import dedupe
from digest.sources.feedparse import parse_feed
from digest.themes import arrange
from digest.urls import canonical_url
from tests.golden_plugin import PARIS, make_config

ROOT = Path(__file__).resolve().parents[1]
SCRIPTING_NEWS = ROOT / "tests/data/corpus/netnewswire/scriptingNews.rss"
FEED_URL = "https://partenaire.example.org/feed.xml"
SOURCE = SourceConfig(name="Partenaire", url=FEED_URL)
# The keys the code before this change gave every item of the feed files of the repository,
# computed once by that code (parse_feed with SOURCE, base FEED_URL). Never regenerate it:
# it is what the stores of existing installations hold.
KEYS_BEFORE = ROOT / "tests/data/keys-before-fragments.json"


def read(path: Path) -> list[Item]:
    return list(parse_feed(path.read_bytes(), SOURCE, FEED_URL))


def test_a_linkblogs_posts_on_one_day_page_are_all_read() -> None:
    items = read(SCRIPTING_NEWS)
    # 50 entries on 7 day pages (`2017/06/26.html#a080605`...); two entries repeat a GUID.
    assert len(items) == 48
    assert len({item.key for item in items}) == 48
    assert len({canonical_url(item.url or "") for item in items}) == 7
    first = items[0]
    assert first.url == "http://scripting.com/2017/06/26.html#a080605"
    assert first.fragment_key
    assert first.key == item_key(first.url, None, "", "", "", keep_fragment=True)


def test_a_linkblogs_posts_are_not_merged_by_select() -> None:
    items = read(SCRIPTING_NEWS)
    merged, duplicates = dedupe(items, 0.8)
    assert duplicates == 0
    assert len(merged) == 48


def test_a_relay_of_one_linkblog_post_merges_with_that_post_only() -> None:
    items = read(SCRIPTING_NEWS)
    relay = Item(
        key="relay",
        title="Relayed",
        url="http://scripting.com/2017/06/26.html?utm_source=x#a030658",
        published=None,
        source="Other",
    )
    merged, duplicates = dedupe([*items, relay], 0.8)
    assert duplicates == 1
    [(_, keys)] = [(item, keys) for item, keys in merged if "relay" in keys]
    assert sorted(keys) == sorted([items[1].key, "relay"])


# Feeds whose links carry tracking parameters dropped since the keys below were recorded.
TRACKED = {"tests/data/corpus/miniflux/rdf_UTF8.xml"}


def test_keys_of_ordinary_items_are_those_of_the_code_before() -> None:
    before: dict[str, list[str]] = json.loads(KEYS_BEFORE.read_text(encoding="utf-8"))
    assert len(before) >= 20
    for name, old_keys in before.items():
        items = read(ROOT / name)
        plain = [item.key for item in items if not item.fragment_key]
        if name in TRACKED:
            # Its links carried Webtrekk's wt_mc, a tracking parameter canonical links drop
            # since (docs/feeds-and-recaps.md): every key changed, on purpose.
            assert not set(item.key for item in items) & set(old_keys)
            assert all("wt_mc" in (item.url or "") for item in items)
            assert not any("wt_mc" in canonical_url(item.url or "") for item in items)
        elif name == SCRIPTING_NEWS.relative_to(ROOT).as_posix():
            # The only feed with posts told apart by fragment: the day page that has one
            # post keeps its key; the six others were one item each and are now 47 posts.
            assert len(plain) == 1 and plain[0] in old_keys
            assert len(old_keys) == 7
        else:
            assert [item.key for item in items] == old_keys, name


def _post(url: str, guid: str | None, title: str) -> Item:
    return Item(
        key=item_key(url, guid, "S", title, ""),
        title=title,
        url=url,
        published=None,
        source="S",
        guid=guid,
    )


def test_one_post_linked_with_two_fragments_keeps_one_key() -> None:
    # The same GUID (or, without GUIDs, the same title): one post, `#more` or not.
    same_guid = [
        _post("https://x.org/p.html#more", "p1", "A"),
        _post("https://x.org/p.html", "p1", "B"),
    ]
    same_title = [
        _post("https://x.org/p.html#more", None, "A"),
        _post("https://x.org/p.html#c", None, "A"),
    ]
    for items in (same_guid, same_title):
        assert distinguish_fragments(items) == items


def test_a_page_and_its_posts() -> None:
    page = _post("https://x.org/day.html", "d", "Day")
    post = _post("https://x.org/day.html#a1", "a1", "First")
    alone = _post("https://x.org/other.html#a2", "a2", "Alone")
    got = distinguish_fragments([page, post, alone])
    assert got[0] == page and got[2] == alone  # keys unchanged
    assert got[1] == replace(
        post, key=item_key(post.url, None, "", "", "", keep_fragment=True), fragment_key=True
    )
    assert got[1].key != post.key


def test_an_overrides_file_names_one_post_of_a_linkblog(tmp_path: Path) -> None:
    items = read(SCRIPTING_NEWS)
    config = make_config(tmp_path)
    text = (
        "pin:\n  - http://scripting.com/2017/06/26.html#a030658\n"
        "exclude:\n  - http://scripting.com/2017/06/26.html?utm_source=x#a020604\n"
        "move:\n  http://scripting.com/2017/06/26.html#a010633: agenda\n"
    )
    overrides = parse_overrides(text, tmp_path / "2017-W26.yaml", move_targets(config))
    arranged = arrange(items, config, week_period("2017-W26", PARIS), overrides)
    assert arranged.featured is not None
    assert [item.url for item in arranged.featured.items] == [
        "http://scripting.com/2017/06/26.html#a030658"
    ]
    shown = [item.url for section in arranged.sections for item in section.items]
    assert "http://scripting.com/2017/06/26.html#a020604" not in shown
    assert len(shown) + arranged.trimmed == 48 - 3  # the caps leave some out
    assert arranged.agenda is not None
    assert [item.url for item in arranged.agenda.items] == [
        "http://scripting.com/2017/06/26.html#a010633"
    ]
    assert not [warning for warning in arranged.warnings if "scripting.com" in warning]


def test_an_ordinary_items_fragment_never_stops_a_match(tmp_path: Path) -> None:
    items = read(ROOT / "content/feeds/reseau-transition-hdf.xml")
    config = make_config(tmp_path)
    text = f"pin:\n  - {items[0].url}#commentaires\n"
    overrides = parse_overrides(text, tmp_path / "2023-W19.yaml", move_targets(config))
    arranged = arrange(items, config, week_period("2023-W19", PARIS), overrides)
    assert arranged.featured is not None
    assert [item.key for item in arranged.featured.items] == [items[0].key]
