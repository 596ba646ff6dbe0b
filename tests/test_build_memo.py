"""The arrangement memo (render/memo.py): a rebuild whose inputs did not change renders the
last build's arrangement; any change to what selection and arrangement read builds in full.

Each case builds the shipped week (its feeds from their snapshots, its recaps, its
overrides), changes one input, builds again, and compares with the same build made from
scratch (the memo emptied): the files must be byte for byte the same, whichever way the
build went. That is the memo's contract: it may save work, never change an issue.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from digest.config import Config, load_config
from digest.period import week_period
from digest.pipeline import Build, build_issue
from digest.store import Store

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime.fromisoformat("2023-05-15T07:00:00+02:00")
RECAP = "2023-05-12-cantines-bio-et-locales-somme.md"


@dataclass
class Week:
    folder: Path
    store: Store

    @property
    def config(self) -> Config:
        return load_config(self.folder / "feeds.yaml")

    def build(self, now: datetime = NOW) -> Build:
        config = self.config
        return build_issue(config, week_period("2023-W19", config.newsletter.tz), now, self.store,
                           offline=True)  # fmt: skip

    def from_scratch(self, now: datetime = NOW) -> Build:
        self.store.db.execute("DELETE FROM build_memo")
        return self.build(now)

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.folder / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def week(tmp_path: Path) -> Iterator[Week]:
    for name in ("content", "templates"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "feeds.yaml", tmp_path / "feeds.yaml")
    with Store(load_config(tmp_path / "feeds.yaml").store) as store:
        yield Week(tmp_path, store)


def files(build: Build) -> tuple[str, str, str, str, tuple[str, ...]]:
    r = build.rendered
    return (r.html, r.text, r.web, build.data, build.warnings)


def test_an_unchanged_week_is_rendered_from_the_memo(week: Week) -> None:
    first = week.build()
    again = week.build()
    assert not first.reused and again.reused
    assert files(again) == files(first)
    scratch = week.from_scratch()
    assert not scratch.reused and files(scratch) == files(again)
    assert again.issue.stats.count == first.issue.stats.count > 0


def _edit_recap(week: Week) -> None:
    week.edit(f"content/recaps/{RECAP}", "# Cantines :", "# Nouvelles cantines :")


def _edit_overrides(week: Week) -> None:
    week.edit("content/issues/2023-W19.md", "exclude: []", "exclude:\n  - " + RECAP)


def _edit_edito(week: Week) -> None:
    week.edit("content/issues/2023-W19.md", "bonne lecture", "très bonne lecture")


def _edit_theme(week: Week) -> None:
    week.edit("feeds.yaml", 'title: "Participation citoyenne"', 'title: "Participation"')


def _send_elsewhere(week: Week) -> None:
    shown = [i.key for s in week.build().issue.sections for i in s.items]
    week.store.mark_sent("2023-W18", shown[:2], NOW - timedelta(days=7))


CHANGES: dict[str, Callable[[Week], None]] = {
    "a recap's title": _edit_recap,
    "an item excluded in the overrides": _edit_overrides,
    "the edito": _edit_edito,
    "a theme's title": _edit_theme,
    "items sent in another issue": _send_elsewhere,
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_builds_in_full_and_equals_a_build_from_scratch(week: Week, change: str) -> None:
    before = week.build()
    CHANGES[change](week)
    after = week.build()
    assert not after.reused
    assert files(after) != files(before)
    assert files(week.from_scratch()) == files(after)
    again = week.build()  # the next rebuild reuses the new arrangement, whole
    assert again.reused and files(again) == files(after)


def test_the_staff_language_is_part_of_the_key(week: Week, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reasons and warnings are written in the staff language: another one builds again."""
    monkeypatch.setenv("DIGEST_LANG", "fr")
    french = week.build()
    monkeypatch.setenv("DIGEST_LANG", "en")
    english = week.build()
    assert not english.reused
    reasons = ['"reason": "mis à la une par', '"reason": "pinned']
    assert [reasons[0] in french.data, reasons[1] in english.data] == [True, True]
    assert files(week.from_scratch()) == files(english)


def test_an_item_dated_ahead_is_selected_again_once_its_date_is_trusted(week: Week) -> None:
    """`now` reaches selection through one rule: a date more than `future_tolerance` (2 h)
    ahead is not trusted, and the item takes its first-seen date. When time catches up
    with the date, the key changes and the build selects again (here mid-week previews)."""
    recap = week.folder / "content" / "recaps" / "2023-05-14-annonce.md"
    recap.write_text(
        '---\ntitle: "Annonce du dimanche"\ndate: 2023-05-14 10:00\ntheme: participation\n'
        "---\nLa participation citoyenne à l'honneur dimanche.\n",
        encoding="utf-8",
    )
    wednesday = datetime.fromisoformat("2023-05-13T10:00:00+02:00")
    early = week.build(wednesday)
    assert week.build(wednesday).reused
    sunday = datetime.fromisoformat("2023-05-14T09:00:00+02:00")
    then = week.build(sunday)
    assert not then.reused
    assert files(week.from_scratch(sunday)) == files(then)
    dates = [
        (item.published, item.date_origin)
        for build in (early, then)
        for section in build.issue.sections
        for item in section.items
        if item.title == "Annonce du dimanche"
    ]
    assert dates == [
        (wednesday, "first_seen"),
        (datetime.fromisoformat("2023-05-14T10:00:00+02:00"), "source"),
    ]


@pytest.mark.parametrize("damage", ["{not json", '{"stats": {}}', '{"stats": null}', "[]"])
def test_a_damaged_memo_builds_in_full(week: Week, damage: str) -> None:
    """A memo whose data cannot be read back is a cache miss, never a traceback."""
    first = week.build()
    week.store.db.execute("UPDATE build_memo SET data = ?", (damage,))
    again = week.build()
    assert not again.reused and files(again) == files(first)
    assert week.build().reused  # the full build stored a good memo again
