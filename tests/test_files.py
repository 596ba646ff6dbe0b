"""Local recaps: real Markdown files (the shipped sample, fixtures, files written to tmp_path)."""

from __future__ import annotations

import hashlib
import itertools
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.config import SourceConfig, load_config
from digest.errors import ParseError
from digest.identity import item_key
from digest.period import week_period
from digest.sources.feeds import read_snapshot
from digest.sources.files import MAX_BYTES, read_recap, read_recaps, recap_files
from digest.sources.recap_text import parse_date

# Why a recap is refused is staff output: read here in English (conftest's english_staff).
pytestmark = pytest.mark.usefixtures("english_staff")

PARIS = ZoneInfo("Europe/Paris")
ROOT = Path(__file__).resolve().parents[1]
SAMPLE_NAME = "2023-05-11-retour-journee-territoires-participatifs.md"
SAMPLE = ROOT / "content" / "recaps" / SAMPLE_NAME
FIXTURES = ROOT / "tests" / "data" / "recaps"
W19 = week_period("2023-W19", PARIS)


def source(folder: Path, name: str = "Récits") -> SourceConfig:
    return SourceConfig(name=name, path=folder)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def hrefs(html: str) -> list[str]:
    """The link and image targets of real tags (escaped text like `&lt;a href=` is inert)."""
    return re.findall(r'<(?:a|img)\b[^>]*?\b(?:href|src)="([^"]*)"', html)


# --- the team's real sample -----------------------------------------------------------------


def test_sample_recap_title_date_and_summary() -> None:
    item = read_recap(SAMPLE, source(SAMPLE.parent), PARIS)
    assert item.title == (
        "Retour sur la deuxième journée régionale du réseau des Territoires Participatifs"
    )
    assert item.published == datetime(2023, 5, 11, tzinfo=PARIS)
    assert item.published.utcoffset() is not None
    assert item.summary_text.startswith(
        "35 participant-es se sont réuni-es le 13 avril 2023 à Arras"
    )
    assert item.summary_html.startswith("<p>35 participant-es")
    assert (item.url, item.origin, item.date_origin, item.source) == (
        None,
        "file",
        "source",
        "Récits",
    )


def test_sample_summary_leaves_out_footer_title_date_and_dead_links() -> None:
    item = read_recap(SAMPLE, source(SAMPLE.parent), PARIS)
    for text in (item.summary_html, item.summary_text):
        for boilerplate in ("Abonnez-vous", "S'inscrire", "Découvrez", "Mis à jour", "deuxième"):
            assert boilerplate not in text
    assert 'href="#"' not in item.summary_html
    assert "<a" not in item.summary_html  # every link of the sample points to "#"
    assert 20 <= len(item.summary_text.split()) <= 60


def test_sample_identity_is_its_path_without_date_prefix() -> None:
    item = read_recap(SAMPLE, source(SAMPLE.parent), PARIS)
    assert item.guid == "file:retour-journee-territoires-participatifs"
    assert item.key == item_key(None, item.guid, "Récits", "", "")


# The sha256 of the team's sample as they handed it over: the shipped copy must stay that
# file byte for byte (a test reads nothing outside the repository, so the digest stands in).
SAMPLE_SHA256 = "18b92032d2de9ec048b0aded3db67e0503d2d9411f05f4fb17500b34f47b2533"


def test_shipped_copy_is_the_teams_sample_verbatim() -> None:
    assert hashlib.sha256(SAMPLE.read_bytes()).hexdigest() == SAMPLE_SHA256


# --- front matter ---------------------------------------------------------------------------


def test_front_matter_fields() -> None:
    path = FIXTURES / "2023-05-09-plan-climat-douaisis.md"
    item = read_recap(path, source(FIXTURES), PARIS)
    assert item.title == "Plans climat : les élus du Douaisis passent à l'action"
    assert item.published == datetime(2023, 5, 9, 18, 30, tzinfo=PARIS)
    assert item.url == "https://www.cerdd.org/Actualites/plans-climat-douaisis"
    assert item.theme == "climat"
    assert item.place == "Douai"
    assert item.categories == ("climat", "PCAET", "Collectivités")
    assert item.image == "https://www.cerdd.org/images/douaisis.jpg"
    assert item.event_date is None


def test_front_matter_url_is_the_key_so_utm_relays_match() -> None:
    item = read_recap(FIXTURES / "2023-05-09-plan-climat-douaisis.md", source(FIXTURES), PARIS)
    relay = "https://WWW.cerdd.org/Actualites/plans-climat-douaisis?utm_source=rss&utm_medium=x"
    assert item.key == item_key(relay, "autre-guid", "Partenaire", "Autre titre", "")


def test_links_resolve_against_url_and_links_to_nowhere_are_unwrapped() -> None:
    item = read_recap(FIXTURES / "2023-05-09-plan-climat-douaisis.md", source(FIXTURES), PARIS)
    assert hrefs(item.summary_html) == [
        "https://www.cerdd.org/Qui-sommes-nous",
        "https://www.ademe.fr/",
    ]
    assert "sans lien vide" in item.summary_html
    assert "La suite" not in item.summary_html  # the lead stops at the first heading


def test_relative_links_without_url_are_dropped_text_kept() -> None:
    item = read_recap(FIXTURES / "sans-entete.md", source(FIXTURES), PARIS)
    assert item.title == "Une journée sans front matter"
    assert item.published == datetime(2024, 3, 3, tzinfo=PARIS)
    assert "<a" not in item.summary_html
    assert "alimentation durable" in item.summary_html
    assert "Découvrez" not in item.summary_html and "Publié" not in item.summary_text


def test_summary_key_wins_and_is_markdown(tmp_path: Path) -> None:
    text = "---\ntitle: T\nsummary: 'En **bref** : [lire](https://a.org/x)'\n---\n\nLong texte.\n"
    item = read_recap(write(tmp_path, "r.md", text), source(tmp_path), PARIS)
    assert item.summary_html == (
        '<p>En <strong>bref</strong> : <a href="https://a.org/x" rel="noopener noreferrer">'
        "lire</a></p>"
    )
    assert item.summary_text == "En bref : lire"


def test_event_date_alone_is_midnight_local_and_keeps_its_time(tmp_path: Path) -> None:
    text = "---\ntitle: Rencontre\ndate: 2023-05-10\nevent_date: 6 juin 2023\nplace: Lille\n---\n"
    item = read_recap(write(tmp_path, "a.md", text), source(tmp_path), PARIS)
    assert item.event_date == datetime(2023, 6, 6, tzinfo=PARIS)
    assert item.published == datetime(2023, 5, 10, tzinfo=PARIS)
    text = "---\ntitle: R\nevent_date: 2023-06-06T14:30:00+00:00\n---\n"
    item = read_recap(write(tmp_path, "b.md", text), source(tmp_path), PARIS)
    assert item.event_date == datetime(2023, 6, 6, 16, 30, tzinfo=PARIS)


def test_unknown_keys_and_empty_front_matter_are_harmless(tmp_path: Path) -> None:
    text = "---\n---\n# Titre seul\n\nCorps.\n"
    item = read_recap(write(tmp_path, "vide.md", text), source(tmp_path), PARIS)
    assert (item.title, item.summary_text, item.published) == ("Titre seul", "Corps.", None)


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Mis à jour le 11 mai 2023", (2023, 5, 11)),
        ("MIS A JOUR LE 11 MAI 2023", (2023, 5, 11)),
        ("Publié le 3 mars 2024", (2024, 3, 3)),
        ("Le 09.04.2024", (2024, 4, 9)),
        ("11/05/2023", (2023, 5, 11)),
        ("1er juin 2023", (2023, 6, 1)),
        ("*Publiée le 12 janv. 2024*", (2024, 1, 12)),
        ("Le 3 févr. 2023", (2023, 2, 3)),
        ("Mis à jour le 4 déc 2023", (2023, 12, 4)),
        ("jeudi 11 mai 2023", (2023, 5, 11)),
    ],
)
def test_french_date_lines(tmp_path: Path, line: str, expected: tuple[int, int, int]) -> None:
    path = write(tmp_path, "recap.md", f"# Titre\n\n{line}\n\nLe texte du recap.\n")
    item = read_recap(path, source(tmp_path), PARIS)
    assert item.published == datetime(*expected, tzinfo=PARIS)
    assert item.summary_text == "Le texte du recap."


def test_date_with_time_is_local() -> None:
    assert parse_date("Le 6 juin 2023 à 14h30", PARIS) == datetime(2023, 6, 6, 14, 30, tzinfo=PARIS)
    assert parse_date("31 février 2023", PARIS) is None
    assert parse_date("le 3 participants 2023", PARIS) is None


def test_date_falls_back_to_file_name_then_none(tmp_path: Path) -> None:
    body = "# Titre\n\nTexte.\n\n## Découvrez d'autres contenus similaires\n\n- Le 09.04.2024\n"
    dated = read_recap(write(tmp_path, "2023-05-12-slug.md", body), source(tmp_path), PARIS)
    assert dated.published == datetime(2023, 5, 12, tzinfo=PARIS)
    undated = read_recap(write(tmp_path, "slug.md", body), source(tmp_path), PARIS)
    assert undated.published is None  # the footer's "Le 09.04.2024" is not the recap's date


def test_impossible_date_line_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "faux.md", "# Titre\n\nMis à jour le 31 février 2023\n\nTexte.\n")
    with pytest.raises(ParseError, match=r"faux\.md:3: .*not a real date"):
        read_recap(path, source(tmp_path), PARIS)


def test_bad_front_matter_date_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "d.md", "---\ntitle: T\ndate: 2023-02-30\n---\nx\n")
    with pytest.raises(ParseError, match=r"d\.md:3: date: '2023-02-30' is not a date") as info:
        read_recap(path, source(tmp_path), PARIS)
    assert info.value.hint and "2023-05-11" in info.value.hint


# --- identity -------------------------------------------------------------------------------


def test_renaming_the_date_prefix_keeps_the_identity(tmp_path: Path) -> None:
    body = "# Même recap\n\nTexte.\n"
    first = read_recap(write(tmp_path, "a/2023-05-10-meme.md", body), source(tmp_path / "a"), PARIS)
    second = read_recap(
        write(tmp_path, "b/2023-05-11-meme.md", body), source(tmp_path / "b"), PARIS
    )
    other = read_recap(
        write(tmp_path, "b/2023-05-11-autre.md", body), source(tmp_path / "b"), PARIS
    )
    assert first.key == second.key != other.key
    pinned = "---\nid: recap-42\ntitle: T\n---\n"
    renamed = read_recap(write(tmp_path, "c/nouveau-nom.md", pinned), source(tmp_path / "c"), PARIS)
    assert renamed.guid == "file:recap-42"


# --- the folder -----------------------------------------------------------------------------


def test_folder_reads_recursively_sorted_and_skips_drafts_and_readme() -> None:
    names = [path.relative_to(FIXTURES).as_posix() for path in recap_files(FIXTURES)]
    assert names == [
        "2023-05-09-plan-climat-douaisis.md",
        "hostile.md",
        "sans-entete.md",
        "sous-dossier/2023-05-12-imbrique.md",
    ]
    result = read_recaps(source(FIXTURES), PARIS)
    assert (result.status, result.error, len(result.items)) == ("ok", None, 4)
    assert result.items[3].guid == "file:sous-dossier/imbrique"


def test_one_bad_file_does_not_sink_the_others(tmp_path: Path) -> None:
    write(tmp_path, "bon.md", "# Bon\n\nTexte.\n")
    write(tmp_path, "mauvais.md", "---\ntitle: [non fermé\n---\n")
    result = read_recaps(source(tmp_path), PARIS)
    assert result.status == "ok"
    assert [item.title for item in result.items] == ["Bon"]
    assert result.error is not None
    assert result.error.startswith("1 of 2 recaps not read: mauvais.md:")


def test_all_bad_is_an_error_empty_is_ok_missing_is_an_error(tmp_path: Path) -> None:
    empty = read_recaps(source(tmp_path), PARIS)
    assert (empty.status, empty.items, empty.error) == ("ok", (), None)
    write(tmp_path, "sans-titre.md", "Juste du texte.\n")
    failed = read_recaps(source(tmp_path), PARIS)
    assert failed.status == "error"
    assert failed.error and "sans-titre.md: no title" in failed.error
    missing = read_recaps(source(tmp_path / "absent"), PARIS)
    assert missing.status == "error" and missing.error and "no such folder" in missing.error


# --- hostile and broken input ---------------------------------------------------------------


def test_hostile_markdown_comes_out_clean() -> None:
    item = read_recap(FIXTURES / "hostile.md", source(FIXTURES), PARIS)
    assert item.title == "Recap piégé"
    assert item.image is None
    # Raw HTML is off: tags written in the Markdown come out as inert, escaped text.
    assert set(re.findall(r"<(\w+)", item.summary_html)) == {"p", "a"}
    assert "&lt;script&gt;" in item.summary_html
    assert hrefs(item.summary_html) == ["https://exemple.org/ok"]


def test_crlf_line_ends_and_escaped_newlines_in_titles(tmp_path: Path) -> None:
    path = tmp_path / "crlf.md"
    path.write_bytes(b"# Titre\r\n\r\nLe 09.04.2024\r\n\r\nTexte.\r\n")
    item = read_recap(path, source(tmp_path), PARIS)
    assert (item.title, item.published) == ("Titre", datetime(2024, 4, 9, tzinfo=PARIS))
    fm = '---\r\ntitle: "Premi\\u00e8re ligne\\r\\nseconde\\u202e ligne"\r\n---\r\n'
    item = read_recap(write(tmp_path, "fm.md", fm), source(tmp_path), PARIS)
    assert item.title == "Première ligne seconde ligne"


def test_yaml_tags_are_refused_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"---\ntitle: T\nx: !!python/object/apply:os.makedirs ['{marker}']\n---\n"
    with pytest.raises(ParseError, match=r"evil\.md:3: YAML tags \(!!python/object/apply:") as info:
        read_recap(write(tmp_path, "evil.md", text), source(tmp_path), PARIS)
    assert not marker.exists()
    assert info.value.hint and "plain text" in info.value.hint


@pytest.mark.parametrize(
    ("front", "field", "typed"),
    [
        ("title: yes", "title", "yes"),
        ("title: T\nplace: On", "place", "On"),
        ("title: T\nauthor: NO", "author", "NO"),
        ("title: 12:30", "title", "12:30"),  # YAML 1.1 sexagesimal: 750
        ("title: 0x1F", "title", "0x1F"),
        ("title: 010", "title", "010"),  # octal: 8
        ("title: 1_000", "title", "1_000"),
        ("title: .inf", "title", ".inf"),
        ("title: 2023-05-11", "title", "2023-05-11"),
        ("title: !!str off", "title", "off"),
        ("title: T\nid: 007", "guid", "file:007"),
    ],
)
def test_front_matter_values_are_the_text_typed(
    tmp_path: Path, front: str, field: str, typed: str
) -> None:
    path = write(tmp_path, "v.md", f"---\n{front}\n---\nTexte.\n")
    assert getattr(read_recap(path, source(tmp_path), PARIS), field) == typed


def test_front_matter_lists_empty_values_and_dates(tmp_path: Path) -> None:
    front = "title: T\ntags: [2023, off, Yes]\nplace:\nimage: ~\nauthor: null\ndate: 2023-05-11"
    item = read_recap(write(tmp_path, "l.md", f"---\n{front}\n---\nx\n"), source(tmp_path), PARIS)
    assert item.categories == ("2023", "off", "Yes")
    assert (item.place, item.image, item.author) == (None, None, None)
    assert item.published == datetime(2023, 5, 11, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("front", "shown"),
    [
        ("title: !!binary aGVsbG8=", "!!binary"),
        ("title: T\nplace: !!bool yes", "!!bool"),
        ("title: T\ntags: !!set {a, b}", "!!set"),
        ("title: T\nplace: !Lille", "!Lille"),
    ],
)
def test_tagged_values_are_refused_at_their_line(tmp_path: Path, front: str, shown: str) -> None:
    path = write(tmp_path, "tag.md", f"---\n{front}\n---\nTexte.\n")
    line = 1 + front.count("\n") + 1
    with pytest.raises(ParseError, match=rf"tag\.md:{line}: YAML tags \({shown}\) are not"):
        read_recap(path, source(tmp_path), PARIS)


def alias_bomb(levels: int = 8) -> str:
    """About 350 bytes of front matter whose `date:` stands for 9**levels strings."""
    names = "abcdefghij"
    lines = ["a: &a [" + ", ".join(['"lol"'] * 9) + "]"]
    for previous, name in itertools.pairwise(names[:levels]):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "---\n" + "\n".join(lines) + f"\ndate: *{names[levels - 1]}\n---\n# Bombe\n"


def test_an_alias_bomb_is_refused_and_the_other_recaps_read(tmp_path: Path) -> None:
    bomb = alias_bomb()
    assert len(bomb.encode()) < 400
    write(tmp_path, "2023-05-10-bombe.md", bomb)
    write(tmp_path, "2023-05-11-bon.md", "---\ntitle: Bon\ndate: 2023-05-11\n---\nTexte.\n")
    result = read_recaps(source(tmp_path), PARIS)
    assert (result.status, [item.title for item in result.items]) == ("ok", ["Bon"])
    assert result.error == (
        "1 of 2 recaps not read: 2023-05-10-bombe.md:2: anchors and aliases (&, *) are not"
        " allowed in front matter (write each value in full; put text that starts with & or *"
        " in quotes)"
    )


def test_any_anchor_or_alias_is_refused_at_its_line(tmp_path: Path) -> None:
    for name, front, line in (
        ("anchor.md", "title: T\nplace: &lieu Lille\n", 3),
        ("alias.md", "title: T\nauthor: Anne\nplace: *lieu\n", 4),
        ("merge.md", "title: T\nbase: &b {place: Lille}\n<<: *b\n", 3),
    ):
        path = write(tmp_path, name, f"---\n{front}---\nTexte.\n")
        with pytest.raises(ParseError, match=rf"{name}:{line}: anchors and aliases"):
            read_recap(path, source(tmp_path), PARIS)
    quoted = write(tmp_path, "quoted.md", '---\ntitle: "*Nouveau* : &co"\n---\nTexte.\n')
    assert read_recap(quoted, source(tmp_path), PARIS).title == "*Nouveau* : &co"


def test_error_messages_quote_at_most_80_characters_of_a_value(tmp_path: Path) -> None:
    long_url = "javascript:" + "x" * 5000
    long_date = "le " + "1" * 5000
    for name, front, key in (
        ("u.md", f"title: T\nurl: {long_url}\n", "url"),
        ("d.md", f"title: T\ndate: {long_date}\n", "date"),
    ):
        path = write(tmp_path, name, f"---\n{front}---\nTexte.\n")
        with pytest.raises(ParseError, match=rf"{name}:3: {key}: 'javascript:x|'le 1") as info:
            read_recap(path, source(tmp_path), PARIS)
        assert len(info.value.message) < 140, info.value.message
        assert "…" in info.value.message or "..." in info.value.message


def test_invalid_yaml_and_unclosed_front_matter(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.md", "---\ntitle: ok\ndate: [2023\nplace: x\n---\n")
    with pytest.raises(ParseError, match=r"bad\.md:\d+: front matter is not valid YAML"):
        read_recap(bad, source(tmp_path), PARIS)
    open_ended = write(tmp_path, "open.md", "---\ntitle: T\n\n# Titre\n")
    with pytest.raises(ParseError, match=r"open\.md:1: .*never closed"):
        read_recap(open_ended, source(tmp_path), PARIS)
    listed = write(tmp_path, "list.md", "---\n- a\n- b\n---\n")
    with pytest.raises(ParseError, match="key: value"):
        read_recap(listed, source(tmp_path), PARIS)


def test_bad_url_and_wrong_types_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "u.md", "---\ntitle: T\nurl: javascript:alert(1)\n---\n")
    with pytest.raises(ParseError, match=r"u\.md:3: url: .* not an http\(s\) URL"):
        read_recap(path, source(tmp_path), PARIS)
    path = write(tmp_path, "t.md", "---\ntitle:\n  a: b\n---\n")
    with pytest.raises(ParseError, match=r"t\.md:2: title: expected text"):
        read_recap(path, source(tmp_path), PARIS)


def test_huge_file_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "enorme.md"
    path.write_bytes(b"# Titre\n\n" + b"x" * MAX_BYTES)
    with pytest.raises(ParseError, match=r"enorme\.md: larger than 1024 KiB") as info:
        read_recap(path, source(tmp_path), PARIS)
    assert info.value.hint


def test_non_utf8_bytes_are_a_clear_error_and_others_still_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_LANG", "en")  # the words of the build side: in English here
    (tmp_path / "latin1.md").write_bytes("# Titre\n\nÉté à Lille\n".encode("latin-1"))
    write(tmp_path, "utf8.md", "\ufeff# Été\n\nTexte.\n")  # a BOM is fine
    with pytest.raises(ParseError, match=r"latin1\.md:3: not UTF-8 \(byte 0xc9"):
        read_recap(tmp_path / "latin1.md", source(tmp_path), PARIS)
    result = read_recaps(source(tmp_path), PARIS)
    assert [item.title for item in result.items] == ["Été"]
    assert result.error and "save the file as UTF-8" in result.error


# --- the shipped configuration and content ----------------------------------------------------


def test_shipped_recaps_all_read_and_the_template_is_skipped() -> None:
    config = load_config(ROOT / "feeds.yaml")
    (recaps,) = [s for s in config.sources if s.path is not None and s.path.is_dir()]
    result = read_recaps(recaps, config.newsletter.tz)
    assert (result.status, result.error) == ("ok", None)
    titles = {item.title for item in result.items}
    assert len(titles) == 5 and "Titre du recap" not in titles  # _modele.md is a template
    in_week = [i for i in result.items if i.published and i.published in W19]
    assert len(in_week) == 4
    (event,) = [item for item in result.items if item.event_date]
    assert event.event_date is not None and event.event_date >= W19.end


def test_shipped_snapshots_have_the_weeks_news() -> None:
    config = load_config(ROOT / "feeds.yaml")
    feeds = [s for s in config.sources if s.url]
    # Every partner is listed once, with its live feed and the snapshot the demo reads.
    assert len(feeds) == 5 and all(s.snapshot is not None and s.path is None for s in feeds)
    results = [read_snapshot(source, config.fetch.max_bytes) for source in feeds]
    assert [r.status for r in results] == ["ok"] * len(feeds)
    assert all(6 <= len(r.items) <= 12 for r in results)
    items = [item for result in results for item in result.items]
    assert 12 <= sum(1 for i in items if i.published and i.published in W19) <= 20
    assert sum(1 for i in items if i.published is None) == 1
    for item in items:
        assert "javascript" not in item.summary_html and "<script" not in item.summary_html
        assert "pixel" not in item.summary_html


def test_hostile_heading_image_links_and_footer_right_after_the_lead(tmp_path: Path) -> None:
    text = (
        "# <script>alert(1)</script>Titre &amp; suite\n\n"
        "Chapeau avec [![vignette](img/a.png)](#) et ![photo](https://a.org/p.jpg).\n\n"
        "Recevez le meilleur de l'information régionale DD & Climat\n\nSuite cachée.\n"
    )
    item = read_recap(write(tmp_path, "h.md", text), source(tmp_path), PARIS)
    assert item.title == "Titre & suite"
    assert (
        item.summary_html == '<p>Chapeau avec  et <img src="https://a.org/p.jpg" alt="photo">.</p>'
    )
    assert item.image == "https://a.org/p.jpg"  # the first usable image of the text
    assert "Suite" not in item.summary_text and "Recevez" not in item.summary_text
