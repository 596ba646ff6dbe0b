"""Config: every problem at once, with file:line locations; defaults; relative paths."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any, get_type_hints

import pytest
import yaml

from digest import config as config_module
from digest.checking import REQUIRED, Key, keys_of
from digest.config import (
    TOP_KEYS,
    Config,
    NewsletterConfig,
    SourceConfig,
    load_config,
    parse_config,
)
from digest.errors import ConfigError

MINIMAL = """\
newsletter:
  title: "La lettre"
sources:
  - name: "Partenaire"
    url: "https://partenaire.example.org/feed"
"""


def problems_of(text: str, tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, tmp_path / "feeds.yaml")
    assert caught.value.exit_code == 2
    return caught.value.problems


def test_minimal_config_gets_defaults(tmp_path: Path) -> None:
    config = parse_config(MINIMAL, tmp_path / "feeds.yaml")
    assert config.newsletter.language == "fr"
    assert config.newsletter.timezone == "Europe/Paris"
    assert config.newsletter.subscribe_url == "http://localhost:8000/"
    assert config.store == tmp_path / "digest.db"
    assert (config.fetch.concurrency, config.fetch.per_host) == (50, 4)
    assert config.sources[0].url == "https://partenaire.example.org/feed"


def test_what_feeds_yaml_leaves_out_is_the_dataclass_default(tmp_path: Path) -> None:
    # Each default is written once, on its field: parsing must arrive at that very value,
    # except for what parsing is meant to do (resolve paths, derive subscribe_url).
    config = parse_config(MINIMAL, tmp_path / "feeds.yaml")
    newsletter = NewsletterConfig(title="La lettre")
    expected = Config(
        path=tmp_path / "feeds.yaml",
        newsletter=replace(newsletter, subscribe_url=newsletter.base_url + "/"),
        sources=(SourceConfig(name="Partenaire", url="https://partenaire.example.org/feed"),),
    )
    issue = replace(expected.issue, overrides=tmp_path / (expected.issue.overrides or ""))
    assert config == replace(expected, store=tmp_path / expected.store, issue=issue)


def written_defaults(keys: dict[str, Key]) -> dict[str, Any]:
    return {
        n: k.default for n, k in keys.items() if k.default is not REQUIRED and k.default is not None
    }


def test_writing_out_every_documented_default_changes_nothing(tmp_path: Path) -> None:
    # The reference's defaults are the real ones, and each passes its own key's check.
    data = {**written_defaults(TOP_KEYS), **yaml.safe_load(MINIMAL)}
    sections = {n: t for n, t in get_type_hints(Config).items() if is_dataclass(t)}
    for name, section in sections.items():
        data[name] = {**written_defaults(keys_of(section)), **data[name]}
    written = parse_config(yaml.safe_dump(data, allow_unicode=True), tmp_path / "feeds.yaml")
    assert written == parse_config(MINIMAL, tmp_path / "feeds.yaml")


def test_every_config_field_is_a_documented_key() -> None:
    # A field added without setting() would be neither checked nor in the reference.
    tables = [v for n, v in vars(config_module).items() if n.endswith("_KEYS")]
    classes = [c for c in vars(config_module).values() if is_dataclass(c)]
    classes = [c for c in classes if c.__module__ == config_module.__name__]
    assert classes and len(classes) == len(tables)
    for cls in classes:
        keys = keys_of(cls)
        not_keys = {"path"} if cls is Config else set()
        assert {f.name for f in fields(cls)} - not_keys == set(keys), cls.__name__
        assert all(key.doc for key in keys.values()), cls.__name__
        assert keys in tables, f"{cls.__name__} has no *_KEYS table: not in the reference"


@pytest.mark.usefixtures("english_staff")
def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    text = """\
newsletter:
  titel: "x"
  language: de
  timezone: Europe/Lile
sources:
  - name: A
    url: ftp://example.org/feed
  - name: A
    path: missing-folder
    theme: climt
  - name: B
themes:
  - id: climat
    title: Climat
    keyword: [chaleur]
fetch:
  concurrency: "ten"
"""
    problems = problems_of(text, tmp_path)
    expected = [  # in the order of the file
        "feeds.yaml:1: newsletter.title: missing (required)",
        "feeds.yaml:2: newsletter.titel: unknown key 'titel', did you mean 'title'?",
        "feeds.yaml:3: newsletter.language: must be one of fr, en",
        "feeds.yaml:4: newsletter.timezone: unknown timezone 'Europe/Lile'",
        "feeds.yaml:7: sources[0].url: not an http(s) URL",
        "feeds.yaml:8: sources[1].name: 'A' is used twice",
        "feeds.yaml:9: sources[1].path:",
        "feeds.yaml:10: sources[1].theme: unknown theme 'climt', did you mean 'climat'?",
        "feeds.yaml:11: sources[2]: give exactly one of `url:` (a feed) or `path:`",
        "feeds.yaml:15: themes[0].keyword: unknown key 'keyword', did you mean 'keywords'?",
        "feeds.yaml:17: fetch.concurrency: expected a whole number, got text",
    ]
    assert len(problems) == len(expected)
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), problem


@pytest.mark.usefixtures("english_staff")
def test_a_far_name_is_not_suggested_the_known_ones_are_listed(tmp_path: Path) -> None:
    text = MINIMAL + "themes:\n  - {id: climat, title: Climat}\n  - {id: eau, title: Eau}\n"
    text = text.replace('"\nthemes:', '"\n    theme: nature\nthemes:', 1)
    problems = problems_of(text, tmp_path)
    assert len(problems) == 1 and problems[0].endswith(
        "sources[0].theme: unknown theme 'nature' (known: climat, eau)"
    ), problems


@pytest.mark.usefixtures("english_staff")
def test_duplicate_yaml_keys_are_reported(tmp_path: Path) -> None:
    problems = problems_of(MINIMAL + "newsletter:\n  title: again\n", tmp_path)
    assert any("newsletter: key given twice" in p for p in problems)


@pytest.mark.usefixtures("english_staff")
def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    problems = problems_of("newsletter: [unclosed\nsources: []\n", tmp_path)
    assert problems[0].startswith("feeds.yaml:")
    assert "not valid YAML" in problems[0]


def alias_bomb(levels: int) -> str:
    """A few hundred bytes of YAML whose `h` stands for 9**levels strings."""
    names = "abcdefgh"
    lines = ["a: &a [" + ", ".join(['"lol"'] * 9) + "]"]
    for previous, name in itertools.pairwise(names[:levels]):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.usefixtures("english_staff")
def test_shared_values_are_fine_but_an_alias_bomb_is_refused(tmp_path: Path) -> None:
    shared = (
        "newsletter: {title: La lettre}\nthemes: [{id: climat, title: Climat}]\nsources:\n"
        "  - {name: A, url: https://a.example/f, categories: &cats {Climat: climat, Air: climat}}\n"
        "  - {name: B, url: https://b.example/f, categories: *cats}\n"
    )
    config = parse_config(shared, tmp_path / "feeds.yaml")
    assert config.sources[1].categories == {"Climat": "climat", "Air": "climat"}
    bomb = alias_bomb(6) + shared.replace("categories: *cats", "categories: {Climat: *f}")
    assert problems_of(bomb, tmp_path) == [
        "feeds.yaml: refused: it stands for more than 100,000 values once its aliases (*)"
        " are expanded: write the values out, or share smaller ones"
    ]


@pytest.mark.usefixtures("english_staff")
def test_a_cycle_or_a_deep_nesting_is_refused_not_a_traceback(tmp_path: Path) -> None:
    cycle = problems_of("newsletter: &n {title: x, again: [*n]}\n", tmp_path)
    assert len(cycle) == 1 and cycle[0].startswith("feeds.yaml: refused: it stands for more")
    deep = problems_of("x: " + "[" * 3000 + "]" * 3000 + "\n", tmp_path)
    assert deep == ["feeds.yaml: refused: it is nested too deeply"]


def test_messages_quote_at_most_80_characters_of_a_value(tmp_path: Path) -> None:
    text = (
        MINIMAL.replace('"La lettre"', '"La lettre"\n  timezone: ' + "Europe/" + "x" * 3000)
        + f"    categories: {{Climat: {'y' * 3000}}}\n"
        + f"themes:\n  - id: climat\n    title: Climat\n    {'z' * 1000}: 1\n"
    )
    found = problems_of(text, tmp_path)
    assert len(found) == 3, found
    for problem in found:
        assert max(len(run) for run in re.findall(r"x+|y+|z+", problem)) <= 80, problem


@pytest.mark.usefixtures("english_staff")
def test_a_list_where_a_theme_id_goes_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    text = MINIMAL + "    categories: {Climat: [climat, air]}\n"
    assert problems_of(text, tmp_path) == [
        "feeds.yaml:6: sources[0].categories.Climat: expected a theme id, got a list"
    ]


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "content" / "recaps").mkdir(parents=True)
    text = MINIMAL + '  - name: "Récits"\n    path: "content/recaps"\nstore: data/x.db\n'
    config = parse_config(text, tmp_path / "feeds.yaml")
    assert config.sources[1].path == tmp_path / "content" / "recaps"
    assert config.store == tmp_path / "data" / "x.db"


def test_missing_file_has_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml")
    assert "DIGEST_CONFIG" in (caught.value.hint or "")


def check(config: Path) -> subprocess.CompletedProcess[str]:
    """`digest check` as staff run it, in a process of its own."""
    command = [sys.executable, "-m", "digest", "--config", str(config), "check"]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_cli_check_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "feeds.yaml"
    bad.write_text("newsletter: {}\nsources: []\n", encoding="utf-8")
    run = check(bad)
    assert run.returncode == 2
    assert run.stderr.startswith(f"erreur : {bad}: 1 problème dans la configuration :\n")
    assert "feeds.yaml:1: newsletter.title: manquant (obligatoire)" in run.stderr
    assert run.stderr.endswith(f"conseil : corrigez ces points dans {bad}\n")
    assert "Traceback" not in run.stderr


def test_cli_check_warns_that_sending_needs_a_sender(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(MINIMAL, encoding="utf-8")
    run = check(config)
    assert run.returncode == 0, run.stderr
    assert ": ok (" in run.stdout
    assert run.stderr == (
        "attention : newsletter.sender n'a pas d'adresse : `digest send`, `digest run` et"
        " `digest serve` en ont besoin (le From: des emails)\n"
    )


def test_cli_check_warns_that_sending_needs_a_postal_address(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    with_sender = MINIMAL.replace("newsletter:\n", 'newsletter:\n  sender: "L <l@x.org>"\n')
    config.write_text(with_sender, encoding="utf-8")
    run = check(config)
    assert run.returncode == 0, run.stderr
    assert run.stderr.startswith("attention : newsletter.address est vide")
    config.write_text(with_sender.replace("newsletter:\n", "newsletter:\n  address: X\n"))
    assert check(config).stderr == ""


def test_footer_links_are_checked_where_they_are(tmp_path: Path) -> None:
    links = (
        "  links:\n    - {label: Site, url: 'https://x.org/'}\n"
        "    - {label: Écrire, url: 'mailto:l@x.org'}\n"
        "    - {label: Bad, url: 'javascript:alert(1)'}\n    - {url: 'https://y.org/'}\n"
    )
    text = MINIMAL.replace("newsletter:\n", "newsletter:\n" + links)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, tmp_path / "feeds.yaml")
    problems = str(caught.value)
    assert "feeds.yaml:5: newsletter.links[2].url: pas une adresse http(s) ni mailto:" in problems
    assert "newsletter.links[3].label: manquant (obligatoire)" in problems
    kept = links.rsplit("    - {label: Bad", 1)[0]
    good = MINIMAL.replace("newsletter:\n", "newsletter:\n" + kept)
    config = parse_config(good, tmp_path / "feeds.yaml")
    assert [(link.label, link.url) for link in config.newsletter.links] == [
        ("Site", "https://x.org/"),
        ("Écrire", "mailto:l@x.org"),
    ]


def test_cli_check_accepts_the_shipped_config() -> None:
    shipped = Path(__file__).parent.parent / "feeds.yaml"
    run = check(shipped)
    assert run.returncode == 0, run.stderr
    assert ": ok (" in run.stdout
    assert run.stderr == ""
