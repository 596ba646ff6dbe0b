"""A feed's `snapshot:`: read by --offline when the store holds no copy of the feed, never
online. Real parts: a feeds.yaml on disk, a SQLite store, the loopback feed server."""

from __future__ import annotations

import gc
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.config import load_config
from digest.errors import ConfigError
from digest.models import SourceResult
from digest.pipeline import collect
from digest.store import Store
from tests.http_server import FeedServer

FEEDS = Path(__file__).parent / "data" / "feeds"
NOW = datetime(2023, 5, 15, 8, 0, tzinfo=UTC)
RSS20_TITLES = [
    "Atlas de la biodiversité communale : 12 nouvelles communes engagées",
    "Économie circulaire : appel à projets « Territoires zéro déchet »",
    "Concertation citoyenne sur le plan climat de la métropole",
]


def write_config(folder: Path, url: str, snapshot: str = "partenaire.xml", extra: str = "") -> Path:
    """A feeds.yaml with one feed (`url` + `snapshot`); partenaire.xml is a copy of rss20.xml."""
    shutil.copy(FEEDS / "rss20.xml", folder / "partenaire.xml")
    config = folder / "feeds.yaml"
    config.write_text(
        "newsletter:\n  title: Lettre test\nsources:\n"
        f'  - name: "Partenaire"\n    url: "{url}"\n    snapshot: {snapshot}\n{extra}',
        encoding="utf-8",
    )
    return config


def read(config_path: Path, offline: bool) -> SourceResult:
    config = load_config(config_path)
    with Store(config.store) as store:
        (result,) = collect(config, store, NOW, offline)
    return result


def titles(result: SourceResult) -> list[str]:
    return [item.title for item in result.items]


def test_offline_with_an_empty_store_reads_the_snapshot(tmp_path: Path) -> None:
    config = write_config(tmp_path, "https://partenaire.example.org/feed/")
    result = read(config, offline=True)
    assert (result.status, result.error) == ("ok", None)
    assert titles(result) == RSS20_TITLES
    assert all(item.source == "Partenaire" and item.origin == "feed" for item in result.items)


def test_offline_with_a_cached_copy_uses_the_cache(feed_server: FeedServer, tmp_path: Path) -> None:
    # A first online build caches atom.xml; the snapshot (rss20.xml) must not replace it.
    config = write_config(tmp_path, feed_server.url("/feeds/atom.xml?t=cached"))
    online = read(config, offline=False)
    assert online.status == "ok" and online.items
    offline = read(config, offline=True)
    assert offline.status == "not_modified"
    assert titles(offline) == titles(online)
    assert not set(titles(offline)) & set(RSS20_TITLES)


def test_online_builds_ignore_the_snapshot(feed_server: FeedServer, tmp_path: Path) -> None:
    config = write_config(tmp_path, feed_server.url("/feeds/atom.xml?t=online"))
    result = read(config, offline=False)
    assert len(feed_server.headers_for("/feeds/atom.xml?t=online")) == 1
    assert result.status == "ok" and titles(result)
    assert not set(titles(result)) & set(RSS20_TITLES)
    # Nor does it stand in for a feed that fails: the failure is reported as it is.
    failing = write_config(tmp_path, feed_server.url("/status/500"))
    broken = read(failing, offline=False)
    assert (broken.status, broken.items) == ("error", ())
    assert broken.error == "HTTP 500 Internal Server Error"


def test_a_snapshot_goes_through_the_sanitizer(tmp_path: Path) -> None:
    shutil.copy(FEEDS / "hostile.xml", tmp_path / "hostile.xml")
    config = write_config(tmp_path, "https://partenaire.example.org/feed/", "hostile.xml")
    result = read(config, offline=True)
    assert result.status == "ok" and result.items
    for item in result.items:
        assert "<script" not in item.summary_html and "javascript:" not in item.summary_html
        assert "\n" not in item.title and "\r" not in item.title


@pytest.mark.usefixtures("english_staff")
def test_a_snapshot_over_the_byte_cap_is_refused(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, "https://partenaire.example.org/feed/", extra="fetch:\n  max_bytes: 1000\n"
    )
    assert (tmp_path / "partenaire.xml").stat().st_size > 1000
    result = read(config, offline=True)
    assert (result.status, result.items) == ("error", ())
    assert result.error == "snapshot partenaire.xml: larger than 1000 bytes"


@pytest.mark.usefixtures("english_staff")
def test_a_missing_snapshot_is_a_config_error_with_its_location(tmp_path: Path) -> None:
    config = write_config(tmp_path, "https://partenaire.example.org/feed/", "absent.xml")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    (problem,) = caught.value.problems
    missing = tmp_path / "absent.xml"
    assert problem == f"feeds.yaml:6: sources[0].snapshot: {missing} does not exist"


@pytest.mark.usefixtures("english_staff")
def test_a_snapshot_must_be_a_file_of_a_url_feed(tmp_path: Path) -> None:
    (tmp_path / "dossier").mkdir()
    (tmp_path / "recaps").mkdir()
    shutil.copy(FEEDS / "rss20.xml", tmp_path / "copie.xml")
    config = write_config(
        tmp_path,
        "https://partenaire.example.org/feed/",
        "dossier",
        '  - name: "Récits"\n    path: recaps\n    snapshot: copie.xml\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert caught.value.problems == [
        f"feeds.yaml:6: sources[0].snapshot: {tmp_path / 'dossier'} is not a file"
        " (a feed saved on disk)",
        "feeds.yaml:9: sources[1].snapshot: only for a feed given by `url:`"
        " (it is a copy of that feed)",
    ]


def test_a_build_pauses_the_cyclic_collector_and_gives_it_back(tmp_path: Path) -> None:
    """build_issue turns Python's cyclic GC off while it runs (pipeline._collector_paused:
    measured 0.2 s of a 2 s rebuild) and back on after, even when the build fails; the
    parse workers turn theirs on."""
    from digest.errors import SourceError
    from digest.period import week_period
    from digest.pipeline import build_issue
    from digest.sources.feedpool import worker_init

    config = load_config(write_config(tmp_path, "https://partenaire.example.org/feed"))
    period = week_period("2023-W19", config.newsletter.tz)
    seen: list[bool] = []
    with Store(config.store) as store:
        build = build_issue(
            config,
            period,
            NOW,
            store,
            offline=True,
            on_source=lambda r: seen.append(gc.isenabled()),
        )
        assert build.issue.id == "2023-W19" and seen == [False] and gc.isenabled()
        nothing = tmp_path / "nothing" / "feeds.yaml"  # offline, nothing cached: it fails
        nothing.parent.mkdir()
        nothing.write_text(
            "newsletter:\n  title: Lettre test\nsources:\n"
            '  - name: "Partenaire"\n    url: "https://partenaire.example.org/feed"\n',
            encoding="utf-8",
        )
        broken = load_config(nothing)
        with pytest.raises(SourceError), Store(broken.store) as other:
            build_issue(broken, period, NOW, other, offline=True)
        assert gc.isenabled()
    gc.disable()
    try:
        worker_init()
        assert gc.isenabled()
    finally:
        gc.enable()
