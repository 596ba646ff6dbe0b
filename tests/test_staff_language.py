"""Which language staff read: the newsletter's, or DIGEST_LANG's, for staff output only;
--help and click's own words included. Readers always get the newsletter's language."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from digest import i18n
from digest.cli import cli
from digest.cli.language import CLICK_MESSAGES, CLICK_PLURALS, config_path, localize_help
from digest.config import parse_config
from digest.errors import ConfigError
from digest.i18n import current_staff_language, set_staff_language, staff_language, t
from tests.golden_plugin import make_config

ROOT = Path(__file__).parent.parent
CLICK_SOURCE = "\n".join(
    path.read_text(encoding="utf-8") for path in Path(click.__file__).parent.glob("*.py")
)


def digest(
    *args: str, cwd: Path | None = None, lang: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    if lang:
        env["DIGEST_LANG"] = lang
    command = [sys.executable, "-m", "digest", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd, env=env)


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "feeds.yaml", tmp_path / "feeds.yaml")
    shutil.copytree(ROOT / "content", tmp_path / "content")
    return tmp_path / "feeds.yaml"


@pytest.fixture
def staff() -> Iterator[None]:
    """The process-wide staff language, put back as it was (unset) after the test."""
    yield
    i18n._staff = None


def build(config: Path, out: Path, lang: str | None) -> subprocess.CompletedProcess[str]:
    week = ("--week", "2023-W19", "--as-of", "2023-05-15T07:00:00+02:00")
    return digest(
        "--config", str(config), "build", "--offline", *week, "--out", str(out), lang=lang
    )


def test_digest_lang_speaks_english_to_staff_and_french_to_readers(
    shipped: Path, tmp_path: Path
) -> None:
    # A partner with no snapshot is skipped offline: why is said in the staff's language.
    text = shipped.read_text("utf-8").replace(
        "sources:\n", 'sources:\n  - name: "Sans copie"\n    url: "https://p.example.org/feed"\n', 1
    )
    shipped.write_text(text, "utf-8")
    french = build(shipped, tmp_path / "fr", None)
    english = build(shipped, tmp_path / "en", "en")
    assert french.returncode == english.returncode == 0, english.stderr
    assert french.stdout.startswith("2023-W19 : 6 sources sur 7 lues, 0 en échec ; ")
    assert english.stdout.startswith("2023-W19: 6 of 7 sources read, 0 failed; ")
    assert "ignorée (hors ligne, jamais récupérée)" in french.stderr
    assert "skipped (offline, never fetched before)" in english.stderr
    for name in ("digest.html", "digest.txt", "web.html"):  # what readers get: the same
        assert (tmp_path / "fr" / name).read_bytes() == (tmp_path / "en" / name).read_bytes()
    assert "Semaine du 8 au 14\u00a0mai\u00a02023" in (tmp_path / "en" / "digest.txt").read_text(
        "utf-8"
    )
    # digest.json is for staff: why a source was skipped and why an item is in its section
    # follow their language; the rest is the same.
    data = {
        lang: json.loads((tmp_path / lang / "digest.json").read_text("utf-8"))
        for lang in ("fr", "en")
    }
    assert data["fr"]["featured"]["items"][0]["reason"] == "mis à la une par 2023-W19.md"
    assert data["en"]["featured"]["items"][0]["reason"] == "pinned by 2023-W19.md"
    for data_ in data.values():
        for source in data_["sources"]:
            source["error"] = None
        for block in [data_["featured"], *data_["sections"], data_["agenda"]]:
            for item in block["items"] if block else ():
                item["reason"] = None
    assert data["fr"] == data["en"]


def test_help_in_french_by_default_in_english_with_digest_lang(
    shipped: Path, tmp_path: Path
) -> None:
    for args in (["--help"], ["build", "--help"]):
        french = digest(*args, cwd=tmp_path)  # ./feeds.yaml, in French
        english = digest(*args, cwd=tmp_path, lang="en")
        assert french.stdout.startswith("Utilisation : python -m digest ")
        assert (
            "  -h, --help" in french.stdout and "Afficher ce message et quitter." in french.stdout
        )
        assert english.stdout.startswith("Usage: python -m digest ")
        assert "Show this message" in english.stdout
    assert (
        "Construire une lettre et écrire digest.html" in digest("build", "-h", cwd=tmp_path).stdout
    )
    assert "Lister les lettres enregistrées" in digest("--help", cwd=tmp_path).stdout
    assert "List the stored issues" in digest("--help", cwd=tmp_path, lang="en").stdout


def test_an_english_newsletter_speaks_english_even_when_its_file_is_broken(
    tmp_path: Path,
) -> None:
    """Before its config can be loaded, digest reads newsletter.language leniently."""
    config = tmp_path / "feeds.yaml"
    config.write_text("newsletter:\n  language: en\nsources: 3\nthemes: {}\n", encoding="utf-8")
    run = digest("--config", str(config), "check", "--nonsense")
    assert run.returncode == 2 and "Error: No such option '--nonsense'." in run.stderr
    assert digest("--config", str(config), "check").returncode == 2
    assert digest("--config", str(config), "--help").stdout.startswith("Usage: ")
    french = digest("--config", str(config), "check", "--nonsense", lang="fr")
    assert "Erreur : Option inconnue : '--nonsense'." in french.stderr
    assert "Essayez « python -m digest check --help » pour l'aide." in french.stderr


def test_click_usage_errors_in_french(tmp_path: Path) -> None:
    missing = digest("report", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.startswith("Utilisation : python -m digest report [OPTIONS] ISSUE\n")
    assert missing.stderr.endswith("Erreur : Argument manquant : 'ISSUE'.\n")
    wrong = digest("issues", "--limit", "many", cwd=tmp_path).stderr
    assert "Valeur non valide pour '--limit' : 'many' n'est pas une valeur valide" in wrong
    extra = digest("issues", "a", "b", cwd=tmp_path).stderr
    assert "Arguments en trop (a b)" in extra
    no_file = digest("subscribers", "import", "absent.csv", cwd=tmp_path).stderr
    assert "Fichier 'absent.csv' : introuvable." in no_file


BROKEN = """\
newsletter:
  titel: "Lettre"
  timezone: Europe/Lile
sources:
  - name: A
    url: ftp://example.org/feed
  - name: B
themes:
  - {id: Climat, title: Climat, keywords: [""]}
fetch:
  concurrency: "dix"
"""


def test_check_on_a_broken_file_speaks_french_and_english_with_digest_lang(
    tmp_path: Path,
) -> None:
    """Problems, hint and the error:/hint: prefixes in the staff language; locations, keys
    and quoted values as the file wrote them."""
    (tmp_path / "feeds.yaml").write_text(BROKEN, encoding="utf-8")
    french = digest("check", cwd=tmp_path)
    assert (french.returncode, french.stdout) == (2, "")
    assert french.stderr == (
        "erreur : feeds.yaml: 8 problèmes dans la configuration :\n"
        "  - feeds.yaml:1: newsletter.title: manquant (obligatoire)\n"
        "  - feeds.yaml:2: newsletter.titel: clé inconnue 'titel' : vouliez-vous dire 'title' ?\n"
        "  - feeds.yaml:3: newsletter.timezone: fuseau horaire inconnu 'Europe/Lile'"
        " (par exemple Europe/Paris)\n"
        "  - feeds.yaml:6: sources[0].url: pas une adresse http(s)\n"
        "  - feeds.yaml:7: sources[1]: donnez `url:` (un flux) ou `path:` (un dossier ou un"
        " fichier), et un seul des deux\n"
        "  - feeds.yaml:9: themes[0].id: utilisez des lettres minuscules sans accent, des"
        " chiffres, '-' ou '_'\n"
        "  - feeds.yaml:9: themes[0].keywords[0]: vide : écrivez un mot ou une expression, ou"
        " supprimez la ligne\n"
        "  - feeds.yaml:11: fetch.concurrency: il faut un nombre entier, pas du texte\n"
        "conseil : corrigez ces points dans feeds.yaml\n"
    )
    english = digest("check", cwd=tmp_path, lang="en")
    assert (english.returncode, english.stdout) == (2, "")
    assert english.stderr == (
        "error: feeds.yaml: 8 problems in the configuration:\n"
        "  - feeds.yaml:1: newsletter.title: missing (required)\n"
        "  - feeds.yaml:2: newsletter.titel: unknown key 'titel', did you mean 'title'?\n"
        "  - feeds.yaml:3: newsletter.timezone: unknown timezone 'Europe/Lile'"
        " (e.g. Europe/Paris)\n"
        "  - feeds.yaml:6: sources[0].url: not an http(s) URL\n"
        "  - feeds.yaml:7: sources[1]: give exactly one of `url:` (a feed) or `path:`"
        " (a folder or file)\n"
        "  - feeds.yaml:9: themes[0].id: use lower-case letters, digits, '-' or '_'\n"
        "  - feeds.yaml:9: themes[0].keywords[0]: expected a non-empty string, got text\n"
        "  - feeds.yaml:11: fetch.concurrency: expected a whole number, got text\n"
        "hint: fix these in feeds.yaml\n"
    )
    # A file that is not YAML at all: the language is French, the default.
    (tmp_path / "feeds.yaml").write_text("newsletter: [\n", encoding="utf-8")
    unreadable = digest("check", cwd=tmp_path)
    assert unreadable.returncode == 2
    assert unreadable.stderr.startswith(
        "erreur : feeds.yaml: 1 problème dans la configuration :\n"
        "  - feeds.yaml:2: pas du YAML valide : "
    )


def test_library_users_get_french_problems_unless_digest_lang_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the CLI, nothing sets the staff language: French, or $DIGEST_LANG."""
    assert current_staff_language() == "fr"
    with pytest.raises(ConfigError) as caught:
        parse_config("newsletter: []\nsources: {}\n", tmp_path / "feeds.yaml")
    assert caught.value.problems == [
        "feeds.yaml:1: newsletter: il faut des lignes « clé: valeur », pas une liste",
        "feeds.yaml:1: newsletter.title: manquant (obligatoire)",
        "feeds.yaml:2: sources: il faut une liste, pas des lignes « clé: valeur »",
    ]
    assert caught.value.message.startswith(f"{tmp_path / 'feeds.yaml'}: 3 problèmes dans la")
    monkeypatch.setenv("DIGEST_LANG", "en")
    with pytest.raises(ConfigError) as caught:
        parse_config("newsletter: []\nsources: {}\n", tmp_path / "feeds.yaml")
    assert caught.value.problems == [
        "feeds.yaml:1: newsletter: expected a mapping, got a list",
        "feeds.yaml:1: newsletter.title: missing (required)",
        "feeds.yaml:2: sources: expected a list, got a mapping",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("newsletter:\n  language: en\n", "en"),
        ("newsletter:\n  language: fr\n", "fr"),
        ("newsletter: {title: x}\n", "fr"),
        ("newsletter:\n  language: de\n", "fr"),
        ("newsletter:\n  language: [en]\n", "fr"),
        ("- a list\n", "fr"),
        ("newsletter: [\n", "fr"),  # not YAML
        ("", "fr"),
    ],
)
def test_the_staff_language_of_a_feeds_yaml(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    assert staff_language(path) == expected


def test_digest_lang_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert staff_language(tmp_path / "missing.yaml") == "fr"
    english = make_config(tmp_path, language="en")
    assert staff_language(english) == "en"
    monkeypatch.setenv("DIGEST_LANG", "fr")
    assert staff_language(english) == "fr"
    monkeypatch.setenv("DIGEST_LANG", " EN ")
    assert staff_language(tmp_path / "missing.yaml") == "en"
    monkeypatch.setenv("DIGEST_LANG", "de")  # not a catalogue: ignored
    assert staff_language(english) == "en"


def test_t_speaks_the_language_set_for_the_process(
    staff: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert current_staff_language() == "fr" and t("cli.aborted") == "Interrompu."
    monkeypatch.setenv("DIGEST_LANG", "en")
    assert t("cli.aborted") == "Aborted."  # before main sets it: DIGEST_LANG
    set_staff_language("fr")
    assert t("cli.aborted") == "Interrompu."
    with pytest.raises(ValueError):
        set_staff_language("klingon")


def test_config_path_from_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    assert config_path(["--config", "a.yaml", "build"]) == Path("a.yaml")
    assert config_path(["--config=b.yaml", "check"]) == Path("b.yaml")
    assert config_path(["check"]) == Path("feeds.yaml")
    monkeypatch.setenv("DIGEST_CONFIG", "c.yaml")
    assert config_path(["check"]) == Path("c.yaml")


def test_help_can_be_translated_again() -> None:
    tree = copy.deepcopy(cli)  # the module's own tree keeps its keys for the other tests
    assert isinstance(tree, click.Group)
    build = tree.commands["build"]
    week = next(p for p in build.params if p.name == "week")
    assert build.help == "help.build" and week.help == "help.build.week"
    localize_help(tree, "en")
    assert (
        build.help == "Build one issue and write digest.html, digest.txt, digest.json and web.html."
    )
    assert week.help is not None and week.help.startswith("ISO week to build")
    localize_help(tree, "fr")
    assert build.help.startswith("Construire une lettre")
    assert week.help.startswith("Semaine ISO à construire")


def test_click_still_says_what_the_catalogue_translates() -> None:
    """A click upgrade that rewords a message would leave our translation unused: noticed."""
    for message in (*CLICK_MESSAGES, *(m for pair in CLICK_PLURALS for m in pair)):
        assert f'"{message}"' in CLICK_SOURCE, message
