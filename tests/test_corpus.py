"""The real-world corpus (tests/data/corpus/): every file read as a build reads it.

Each file goes through `parse_in_worker` in the parser pool, under the CPU allowance a
fetched feed gets, and must give items or a clear ParseError; the items keep the promises
of `Item` (plain one-line titles, absolute http(s) links, sanitized HTML). PROVENANCE.md
must list exactly the files present, each under a licence whose text is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.config import SourceConfig
from digest.errors import ParseError
from digest.models import Item
from digest.sources.feedpool import parse_in_worker, parser_pool

CORPUS = Path(__file__).parent / "data" / "corpus"
PROVENANCE = CORPUS / "PROVENANCE.md"
LICENSES = CORPUS / "LICENSES"
# A corpus file is a feed a partner could serve, not a stress test: the limits have their
# own tests. Large enough for a month of a busy blog with full bodies.
MAX_FILE_BYTES = 512 * 1024
MAX_CORPUS_BYTES = 2 * 1024 * 1024
PERMISSIVE = {"MIT", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "ISC", "0BSD", "CC0-1.0"}
BASE = "https://partner.example.org/feed"

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)


def corpus_files() -> list[Path]:
    """The feed files: everything under the corpus but its provenance and licence texts."""
    return sorted(
        path
        for path in CORPUS.rglob("*")
        if path.is_file() and path != PROVENANCE and LICENSES not in path.parents
    )


def provenance_rows() -> list[list[str]]:
    """The table's rows (file, project, source @ commit, licence), backquotes removed."""
    rows = []
    for line in PROVENANCE.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 4 and cells[0] not in ("file", "---"):
            rows.append(cells)
    return rows


@pytest.fixture(scope="module")
def outcomes() -> dict[str, tuple[Item, ...] | ParseError]:
    """Each corpus file's items, or the ParseError that refused it, parsed in the pool."""
    files = corpus_files()
    results: dict[str, tuple[Item, ...] | ParseError] = {}
    with parser_pool(len(files)) as pool:
        assert pool is not None
        futures = {
            path: pool.submit(parse_in_worker, path.read_bytes(), _source(path), BASE, {})
            for path in files
        }
        for path, future in futures.items():
            try:
                results[_name(path)] = future.result()
            except ParseError as exc:
                results[_name(path)] = exc
    return results


def _name(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


def _source(path: Path) -> SourceConfig:
    return SourceConfig(name=path.stem, url=BASE)


def all_items(outcomes: dict[str, tuple[Item, ...] | ParseError]) -> Iterator[Item]:
    for outcome in outcomes.values():
        if not isinstance(outcome, ParseError):
            yield from outcome


def test_every_file_gives_items_or_a_clear_refusal(
    outcomes: dict[str, tuple[Item, ...] | ParseError],
) -> None:
    assert len(outcomes) == len(corpus_files()) >= 60
    for name, outcome in outcomes.items():
        if isinstance(outcome, ParseError):
            assert outcome.message.strip(), name
    # Most of the corpus is usable: a parser that refused everything would pass the above.
    refused = [name for name, outcome in outcomes.items() if isinstance(outcome, ParseError)]
    assert len(refused) < len(outcomes) // 5, refused
    assert sum(1 for _ in all_items(outcomes)) > 500


def test_titles_are_plain_single_lines(outcomes: dict[str, tuple[Item, ...] | ParseError]) -> None:
    for item in all_items(outcomes):
        assert item.title and item.title == item.title.strip(), item
        assert not CONTROL.search(item.title), item.title
        assert not CONTROL.search(item.summary_text.replace("\n", "")), item.key


def test_links_and_pictures_are_absolute_http(
    outcomes: dict[str, tuple[Item, ...] | ParseError],
) -> None:
    for item in all_items(outcomes):
        for url in (item.url, item.image):
            assert url is None or re.match(r"https?://[^/\s]+", url), (item.source, url)


def test_summaries_are_sanitized(outcomes: dict[str, tuple[Item, ...] | ParseError]) -> None:
    hostile = 0
    for item in all_items(outcomes):
        html = item.summary_html.lower()
        assert "<script" not in html and "javascript:" not in html, item.source
        assert not HANDLER.search(html), item.source
        hostile += item.source.startswith("entry_")  # feedparser's sanitizer cases
    assert hostile >= 3  # the hostile files did reach this check with items


def test_provenance_lists_exactly_the_files_present() -> None:
    rows = provenance_rows()
    listed = [row[0] for row in rows]
    assert listed == sorted(listed), "keep the table sorted by file path"
    assert sorted(set(listed)) == sorted(listed), "a file is listed twice"
    assert set(listed) == {_name(path) for path in corpus_files()}


def test_every_file_has_a_permissive_licence_whose_text_is_kept() -> None:
    for file, project, source, licence in provenance_rows():
        assert file.startswith(project + "/"), file
        assert re.search(r"\S+:\S+ @ [0-9a-f]{12,40}$", source), source
        assert licence in PERMISSIVE, (file, licence)
        text = LICENSES / f"{project}.txt"
        assert text.is_file() and text.stat().st_size > 200, text


def test_corpus_stays_small() -> None:
    sizes = {_name(path): path.stat().st_size for path in corpus_files()}
    too_large = {name: size for name, size in sizes.items() if size > MAX_FILE_BYTES}
    assert not too_large
    assert sum(sizes.values()) <= MAX_CORPUS_BYTES
