"""Small building blocks: periods, identity, text cleaning, the store."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import pytest

from digest.errors import StoreError, UsageError
from digest.identity import item_key
from digest.period import parse_moment, range_period, week_of, week_period
from digest.store import MIGRATIONS, CachedFetch, Store
from digest.text import (
    clean_title,
    html_to_text,
    plain_title,
    sanitize_html,
    sanitized_to_text,
    summarize,
)
from digest.urls import _canonical, canonical_url, http_url, join_url

PARIS = ZoneInfo("Europe/Paris")


def test_iso_week_is_monday_to_monday_in_paris() -> None:
    period = week_period("2023-W19", PARIS)
    assert period.start.isoformat() == "2023-05-08T00:00:00+02:00"
    assert period.end.isoformat() == "2023-05-15T00:00:00+02:00"
    assert datetime(2023, 5, 14, 21, 59, tzinfo=UTC) in period
    assert datetime(2023, 5, 14, 22, 0, tzinfo=UTC) not in period


def test_week_across_a_dst_change_is_still_seven_local_days() -> None:
    period = week_period("2023-W13", PARIS)  # clocks go forward on Sunday 26 March
    assert period.start.isoformat() == "2023-03-27T00:00:00+02:00"
    assert week_period("2023-W12", PARIS).end.isoformat() == "2023-03-27T00:00:00+02:00"


def test_week_of_a_moment_uses_the_local_date() -> None:
    sunday_night_utc = datetime(2023, 5, 14, 22, 30, tzinfo=UTC)  # Monday in Paris
    assert week_of(sunday_night_utc, PARIS).name == "2023-W20"


def test_bad_weeks_and_ranges_are_usage_errors() -> None:
    for bad in ("2023-19", "2023-W54", "W19"):
        with pytest.raises(UsageError) as caught:
            week_period(bad, PARIS)
        assert "configuration" not in str(caught.value)
    with pytest.raises(UsageError):
        range_period(date(2023, 5, 10), date(2023, 5, 1), PARIS)


def test_range_includes_the_until_day() -> None:
    period = range_period(date(2023, 5, 1), date(2023, 5, 10), PARIS)
    assert period.end.isoformat() == "2023-05-11T00:00:00+02:00"
    assert period.name == "2023-W19"
    assert parse_moment("2023-05-12T09:00", PARIS).tzinfo == PARIS


def test_canonical_url_drops_tracking_and_fragment() -> None:
    url = "HTTPS://WWW.Cerdd.ORG:443/Actu/Page?utm_source=x&id=3&fbclid=y&mtm_campaign=z#haut"
    assert canonical_url(url) == "https://www.cerdd.org/Actu/Page?id=3"
    assert canonical_url("http://a.org") == "http://a.org/"
    assert item_key(url, None, "A", "t", "") == item_key(
        "https://www.cerdd.org/Actu/Page?id=3", "g", "B", "", ""
    )
    assert item_key(None, "urn:1", "A", "t", "") != item_key(None, "urn:1", "B", "t", "")


def test_titles_lose_crlf_tags_and_controls() -> None:
    assert clean_title("Bonjour\r\nBcc: victim@example.org") == "Bonjour Bcc: victim@example.org"
    assert clean_title("A &amp; <b>B</b>\x00\u202e") == "A & B"
    assert len(clean_title("mot " * 200)) <= 300


def test_plain_titles_keep_what_looks_like_markup() -> None:
    assert plain_title(" a < b\r\net <script>x</script> &amp;\x00\u202e ") == (
        "a < b et <script>x</script> &amp;"
    )
    assert plain_title("<b>" + "mot " * 200).endswith("…")
    assert len(plain_title("<b>" + "mot " * 200)) <= 300


def test_sanitizer_keeps_content_and_drops_active_parts() -> None:
    dirty = (
        '<p onclick="x()">Texte <a href="javascript:alert(1)">piège</a>'
        ' <a href="/relatif">relatif</a><img src="https://t.example/p.gif" width="1" height="1">'
        '<script>alert(1)</script><style>p{}</style><img src="data:image/png;base64,AA" alt="d">'
        '<iframe src="https://evil.example"></iframe>'
        '<img src="photo.jpg" alt="photo" width="300"></p>'
    )
    clean = sanitize_html(dirty, "https://partenaire.example.org/actu/")
    assert "onclick" not in clean and "javascript" not in clean and "script" not in clean
    assert "alert" not in clean and "iframe" not in clean and "data:" not in clean
    assert "p.gif" not in clean
    assert 'href="https://partenaire.example.org/relatif"' in clean
    assert 'src="https://partenaire.example.org/actu/photo.jpg"' in clean
    assert "Texte" in clean and "piège" in clean


def test_http_url_refuses_other_schemes() -> None:
    assert http_url("javascript:alert(1)") is None
    assert http_url("data:text/html,x") is None
    assert http_url("/a", "https://b.org/c") == "https://b.org/a"
    assert http_url("#") is None


def test_summaries_are_cut_at_a_word_boundary() -> None:
    text = html_to_text("<p>" + " ".join(f"mot{n}" for n in range(100)) + "</p>")
    summary = summarize(text)
    assert summary.endswith("…")
    assert 40 <= len(summary.split()) <= 60
    assert summarize("Court texte.") == "Court texte."


def test_a_cut_at_a_separator_or_colon_leaves_no_space_before_the_ellipsis() -> None:
    for last in ("–", ":"):
        words = [f"mot{n}" for n in range(49)] + [last] + [f"suite{n}" for n in range(30)]
        assert summarize(" ".join(words)).endswith(" mot48…")


LIST_SUMMARY = (
    "<p>Appel à projets 2023</p><ul><li>Dépôt des dossiers : jusqu'au 30 juin 2023</li>"
    "<li>Webinaire d'information : le 24 mai à 11 h</li></ul>"
)


def test_blocks_that_run_together_get_a_separator() -> None:
    assert html_to_text(LIST_SUMMARY) == (
        "Appel à projets 2023 – Dépôt des dossiers : jusqu'au 30 juin 2023"
        " – Webinaire d'information : le 24 mai à 11 h"
    )
    assert html_to_text("Date : 24 mai<br>Lieu : Lille<br/>") == "Date : 24 mai – Lieu : Lille"
    assert html_to_text("<h3>Contexte</h3><p>La Région finance.</p>") == (
        "Contexte – La Région finance."
    )


def test_blocks_ending_with_punctuation_get_a_space() -> None:
    assert html_to_text("<ul><li>le vélo ;</li><li>la marche ;</li><li>le bus.</li></ul>") == (
        "le vélo ; la marche ; le bus."
    )
    assert html_to_text(
        "<p>« C'est fait. »</p><p>(Fin.)</p><p>Au programme :</p><ul><li>a</li>"
    ) == ("« C'est fait. » (Fin.) Au programme : a")
    assert html_to_text("<p>  </p><div><p>Seul</p></div><br>") == "Seul"
    assert html_to_text("é<b>co</b>nomie <i>circu</i>laire") == "économie circulaire"


def test_store_migrates_and_remembers(tmp_path: Path) -> None:
    path = tmp_path / "digest.db"
    now = datetime(2023, 5, 12, 9, tzinfo=PARIS)
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        store.remember_fetch(CachedFetch("https://a.org/f", '"e1"', None, b"<rss/>", now))
        seen = store.first_seen(["k1"], now)
        store.mark_sent("2023-W18", ["k1"], now)
    with Store(path) as store:
        cached = store.cached_fetch("https://a.org/f")
        assert cached is not None and cached.etag == '"e1"' and cached.body == b"<rss/>"
        later = datetime(2023, 6, 1, tzinfo=PARIS)
        assert store.first_seen(["k1", "k2"], later) == {"k1": seen["k1"], "k2": later}
        assert store.sent_keys(["k1", "k2"]) == {"k1"}
        assert store.sent_keys(["k1"], except_issue="2023-W18") == set()


def test_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "digest.db"
    with Store(path) as store:
        store.db.execute("PRAGMA user_version = 999")
    with pytest.raises(StoreError, match="une version plus récente de digest"):
        Store(path)


def test_control_char_fast_path_matches_the_character_walk() -> None:
    import unicodedata

    from digest.chars import remove_control_chars

    def walk(text: str) -> str:
        breaks = "\t\n\r\u2028\u2029\x85"
        dropped = ("Cc", "Cf", "Cs", "Co", "Cn")
        return "".join(
            " " if c in breaks else c for c in text if c in breaks
            or unicodedata.category(c) not in dropped
        )  # fmt: skip

    points = [*range(0x3100), *range(0xFE00, 0x10000), 0xE0001, 0xF0000, 0x10FFFF]
    for point in points:
        text = f"a{chr(point)}b"
        assert remove_control_chars(text) == walk(text), hex(point)


# -- the shortcuts of digest.text, checked against the slow, exact originals ------------

URL_BASES = (
    "https://b.org/c/d",
    "http://B.org:8080/x/",
    "HTTPS://b.org",
    "https://u:p@b.org/a?q#f",
    "ftp://b.org/x",
    "file:///tmp/x",
    "mailto:x@y.org",
    "b.org/relative",
)
URL_VALUES = (
    "/a",
    "/a/b?c=d#e",
    "/a//b",
    "//evil.org/x",
    "/a/./b",
    "/a/../b",
    "/..",
    "/a?",
    "/a#",
    "/a;",
    "/a;p?q",
    "/a?#f",
    "/a;#f",
    "https://x.org",
    "https://x.org?a",
    "https://x.org/a/../b",
    "https://x.org/a;?q",
    "HTTPS://x.org/",
    "http://x.org:80/p",
    "http://user@x.org/",
    "http://[::1]/",
    "https://x.org\\@evil.org/",
    "javascript:alert(1)",
    "data:text/html,x",
    "a/b",
    "../a",
    "?q",
    "#f",
    "",
    "/é/à?é=1",
    "https://x.org/é",
    "/a b",
    "/a\\b",
    "mailto:a@b.org",
    "http:/x",
    "http:x",
)


@pytest.mark.parametrize("base", URL_BASES)
def test_join_url_is_urljoin(base: str) -> None:
    for value in URL_VALUES:
        assert join_url(base, value) == urljoin(base, value), value


def test_join_url_is_urljoin_on_random_paths() -> None:
    alphabet = "/.?#;:@ab-\\ é%"
    rng = random.Random(19)
    for _ in range(5000):
        tail = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        for value in ("/" + tail, "https://x.org" + tail, tail):
            assert join_url("https://b.org/c/d?e#f", value) == urljoin(
                "https://b.org/c/d?e#f", value
            ), value
            assert join_url(None, value) == value


SANITIZED_CASES = (
    "<p>Court résumé.</p><p>Deuxième paragraphe</p>",
    '<p title="a > b">Titre <a href="https://x.org/?a=1&amp;b=2">lien</a> suite</p>',
    "<ul><li>un</li><li>deux</li></ul><ol><li>trois</li></ol>",
    "Texte&nbsp;insécable &amp;lt;pas une balise&amp;gt; &lt;b&gt; a &lt; b et c &gt; d",
    "<script>alert(1)</script><style>p{}</style>Visible<!-- commentaire -->",
    "é<b>co</b>nomie <i>circu</i>laire<br>fin<br/>vraie fin",
    "<H2>Titre</H2><BLOCKQUOTE>cité</BLOCKQUOTE><div>bloc</div><table><tr><td>x</td></tr>",
    "<p>Ligne\r\nsuivante\u2028et\u202eRLO\x00</p>",
    "<![CDATA[x]]> <3 amour & humour",
    "<figure><img src='/i.jpg' alt='a>b'><figcaption>Légende</figcaption></figure>",
    LIST_SUMMARY,
    "<p>« Fin. »</p><p>(voir p. 3)</p>Date : 24 mai<br>Lieu<br><br>Lille<ul><li>un ;</li></ul>",
)


@pytest.mark.parametrize("fragment", SANITIZED_CASES)
def test_sanitized_to_text_is_html_to_text_on_sanitized_html(fragment: str) -> None:
    clean = sanitize_html(fragment, "https://b.org/")
    assert sanitized_to_text(clean) == html_to_text(clean)


def test_sanitized_to_text_on_the_shipped_snapshots() -> None:
    import feedparser

    bodies = 0
    for path in sorted((Path(__file__).resolve().parents[1] / "content").rglob("*.xml")):
        with path.open("rb") as stream:
            parsed = feedparser.parse(stream, sanitize_html=False)
        for entry in parsed.entries:
            clean = sanitize_html(entry.get("summary") or "", "https://b.org/")
            assert sanitized_to_text(clean) == html_to_text(clean)
            bodies += 1
    assert bodies > 20


def test_canonical_url_shortcut_is_the_full_rule_on_random_urls() -> None:
    alphabet = "aZ0./?#&=:;%-_ é"
    rng = random.Random(23)
    for _ in range(5000):
        tail = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        for url in (
            "https://x.org" + tail,
            "http://a-b.example.org/" + tail,
            "HTTP://X.org/" + tail,
        ):
            assert canonical_url(url) == _canonical(url.strip()), url
