"""Per-issue overrides files: what staff write, and every mistake reported with file:line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from digest.config import Config, parse_config
from digest.errors import ConfigError
from digest.overrides import Overrides, load_overrides

REPO = Path(__file__).resolve().parents[1]
NOT_A_REFERENCE = "is neither an http(s) URL nor a recap file name (….md)"

CONFIG = """
newsletter:
  title: Lettre
sources:
  - name: Partenaire
    url: https://partenaire.example.org/feed.xml
themes:
  - id: climat
    title: Climat
  - id: participation
    title: Participation citoyenne
issue:
  overrides: {folder}
"""


def make_config(tmp_path: Path, folder: str = "issues") -> Config:
    (tmp_path / "issues").mkdir(exist_ok=True)
    return parse_config(CONFIG.format(folder=folder), tmp_path / "feeds.yaml")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "issues" / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, name: str, text: str) -> list[str]:
    config = make_config(tmp_path)
    write(tmp_path, name, text)
    with pytest.raises(ConfigError) as caught:
        load_overrides(config, name.rsplit(".", 1)[0])
    return caught.value.problems


def test_markdown_file_gives_front_matter_and_edito(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    path = write(
        tmp_path,
        "2023-W19.md",
        "---\n"
        "subject: Spécial participation\n"
        "pin:\n"
        "  - https://Cerdd.example.org/actu/journee?utm_source=rss#haut\n"
        "exclude:\n"
        "  - https://partenaire.example.org/offre-emploi\n"
        "move:\n"
        "  https://partenaire.example.org/velo: participation\n"
        "---\n"
        "\n"
        "Cette semaine, **la participation** à l'honneur.\n\n— L'équipe\n",
    )
    overrides = load_overrides(config, "2023-W19")
    assert overrides == Overrides(
        edito_markdown="Cette semaine, **la participation** à l'honneur.\n\n— L'équipe",
        # Canonical, with the fragment: it may name one post of a linkblog (an ordinary
        # item's fragment still never stops a match: themes.named_item).
        pin=("https://cerdd.example.org/actu/journee#haut",),
        exclude=("https://partenaire.example.org/offre-emploi",),
        move={"https://partenaire.example.org/velo": "participation"},
        subject="Spécial participation",
        path=path,
    )


def test_yaml_file_takes_the_same_keys_plus_edito(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    write(
        tmp_path,
        "2023-W20.yaml",
        "title: Numéro de printemps\n"
        "pin: https://cerdd.example.org/a\n"  # one URL instead of a list is fine
        "edito: |\n  Bonne lecture !\n",
    )
    overrides = load_overrides(config, "2023-W20")
    assert overrides.pin == ("https://cerdd.example.org/a",)
    assert overrides.title == "Numéro de printemps"
    assert overrides.edito_markdown == "Bonne lecture !"
    assert overrides.label == "2023-W20.yaml"


def test_markdown_without_front_matter_is_all_edito(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    write(tmp_path, "2023-W19.md", "Un mot de l'équipe.\n")
    overrides = load_overrides(config, "2023-W19")
    assert overrides.edito_markdown == "Un mot de l'équipe."
    assert overrides.pin == () and overrides.move == {}


def test_no_file_means_no_overrides(tmp_path: Path) -> None:
    assert load_overrides(make_config(tmp_path), "2023-W19") == Overrides()
    no_folder = make_config(tmp_path, folder='""')
    assert no_folder.issue.overrides is None
    assert load_overrides(no_folder, "2023-W19") == Overrides()


@pytest.mark.usefixtures("english_staff")
def test_every_problem_is_listed_with_its_line(tmp_path: Path) -> None:
    text = (
        "---\n"  # 1
        "pins:\n"  # 2
        "  - https://cerdd.example.org/a\n"  # 3
        "pin:\n"  # 4
        "  - https://cerdd.example.org/b\n"  # 5
        "  - www.cerdd.example.org/c\n"  # 6
        "exclude:\n"  # 7
        "  - ftp://cerdd.example.org/d\n"  # 8
        "  - https://cerdd.example.org/b?utm_source=x\n"  # 9
        "move:\n"  # 10
        "  https://cerdd.example.org/e: climate\n"  # 11
        "  https://cerdd.example.org/f: sport\n"  # 12
        "subject: [not, text]\n"  # 13
        "---\n"
        "L'edito.\n"
    )
    assert problems(tmp_path, "2023-W19.md", text) == [  # in the order of the file
        "2023-W19.md:2: pins: unknown key 'pins', did you mean 'pin'?",
        f"2023-W19.md:6: pin[1]: 'www.cerdd.example.org/c' {NOT_A_REFERENCE}",
        f"2023-W19.md:8: exclude[0]: 'ftp://cerdd.example.org/d' {NOT_A_REFERENCE}",
        "2023-W19.md:9: exclude[1]: https://cerdd.example.org/b is also in `pin`:"
        " keep one of the two",
        "2023-W19.md:11: move.https://cerdd.example.org/e: unknown theme 'climate',"
        " did you mean 'climat'?",
        "2023-W19.md:12: move.https://cerdd.example.org/f: unknown theme 'sport'"
        " (known: agenda, autres, climat, participation)",
        "2023-W19.md:13: subject: expected text, got a list",
    ]


@pytest.mark.usefixtures("english_staff")
def test_yaml_lines_are_the_file_lines(tmp_path: Path) -> None:
    text = "edito: Bonjour\nmove:\n  https://cerdd.example.org/a: climat\n  notaurl: climat\n"
    assert problems(tmp_path, "2023-W19.yaml", text) == [
        f"2023-W19.yaml:4: move.notaurl: 'notaurl' {NOT_A_REFERENCE}"
    ]


@pytest.mark.usefixtures("english_staff")
def test_edito_key_and_markdown_body_conflict(tmp_path: Path) -> None:
    text = "---\nedito: Bonjour\n---\nUn autre texte.\n"
    assert problems(tmp_path, "2023-W19.md", text) == [
        "2023-W19.md:2: edito: the body of a .md file is already the edito: remove this key"
    ]


@pytest.mark.usefixtures("english_staff")
def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    found = problems(tmp_path, "2023-W19.md", "---\npin:\n  - https://a.example/\n bad: [\n---\n")
    assert len(found) == 1 and found[0].startswith("2023-W19.md:4: not valid YAML")


@pytest.mark.usefixtures("english_staff")
def test_an_alias_bomb_is_refused_and_long_values_are_cut(tmp_path: Path) -> None:
    lines = ["a: &a [" + ", ".join(['"https://a.example/"'] * 9) + "]"]
    lines += [
        f"{n}: &{n} [" + ", ".join([f"*{p}"] * 9) + "]"
        for p, n in zip("abcde", "bcdef", strict=True)
    ]
    bomb = "---\n" + "\n".join(lines) + "\nexclude: *f\n---\nEdito.\n"
    assert problems(tmp_path, "2023-W19.md", bomb) == [
        "2023-W19.md: refused: it stands for more than 100,000 values once its aliases (*)"
        " are expanded: write the values out, or share smaller ones"
    ]
    long_value = "pin:\n  - [" + ", ".join(["www.cerdd.example.org/x"] * 500) + "]\n"
    long_value += f"move:\n  https://cerdd.example.org/a: {'t' * 3000}\n"
    long_value += "  https://cerdd.example.org/b: [climat]\n"
    found = problems(tmp_path, "2023-W20.yaml", long_value)
    assert len(found) == 3, found
    assert found[2].endswith(
        ":5: move.https://cerdd.example.org/b: expected a theme id, got a list"
    )
    for problem in found:
        assert len(problem) < 250, problem


@pytest.mark.usefixtures("english_staff")
def test_front_matter_must_be_a_mapping_and_closed(tmp_path: Path) -> None:
    assert problems(tmp_path, "2023-W19.md", "---\n- a\n- b\n---\nTexte\n") == [
        "2023-W19.md:2: (top): expected a mapping, got a list"
    ]
    assert problems(tmp_path, "2023-W20.md", "---\npin: []\nTexte sans fin\n") == [
        "2023-W20.md:1: the front matter opened here is never closed by a '---' line"
    ]


@pytest.mark.usefixtures("english_staff")
def test_two_files_for_one_issue_is_an_error(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    write(tmp_path, "2023-W19.md", "Edito\n")
    write(tmp_path, "2023-W19.yaml", "edito: Edito\n")
    with pytest.raises(ConfigError) as caught:
        load_overrides(config, "2023-W19")
    assert "2 override files for 2023-W19 (2023-W19.md, 2023-W19.yaml)" in caught.value.message
    assert caught.value.hint == "keep one of them"


def test_the_shipped_example_is_valid(tmp_path: Path) -> None:
    config = make_config(tmp_path, folder=str(REPO / "content" / "issues"))
    overrides = load_overrides(config, "2023-W19")
    assert overrides.path == REPO / "content" / "issues" / "2023-W19.md"
    assert "L'équipe du Cerdd" in overrides.edito_markdown
    assert overrides.pin == (
        "https://www.cerdd.org/Parcours-thematiques/Participation-citoyenne/"
        "Retour-sur-la-deuxieme-journee-regionale-du-reseau-des-Territoires-Participatifs",
    )


def test_edito_is_sanitized_html_and_paragraphed_text() -> None:
    overrides = Overrides(
        edito_markdown="Bonjour à **toutes et tous** !\n<script>alert(1)</script>\n\n"
        "Lire [le bilan](https://cerdd.example.org/bilan) et [ceci](javascript:alert(1)).\n\n"
        "— L'équipe du Cerdd"
    )
    html = overrides.edito_html
    assert "<strong>toutes et tous</strong>" in html
    link = '<a href="https://cerdd.example.org/bilan" rel="noopener noreferrer">le bilan</a>'
    assert link in html
    # Raw HTML stays text and a javascript: link never becomes a link.
    assert "<script" not in html and 'href="javascript' not in html
    assert overrides.edito_text == (
        "Bonjour à toutes et tous ! <script>alert(1)</script>\n\n"
        "Lire le bilan (https://cerdd.example.org/bilan) et [ceci](javascript:alert(1)).\n\n"
        "— L'équipe du Cerdd"
    )
    assert Overrides().edito_html == "" and Overrides().edito_text == ""


def test_recaps_without_url_are_named_by_file_name(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    write(
        tmp_path,
        "2023-W19.md",
        "---\n"
        "pin: [content/recaps/2023-05-11-Retour-journee.md]\n"
        "move:\n  atelier-velo.md: participation\n"
        "---\n",
    )
    overrides = load_overrides(config, "2023-W19")
    assert overrides.pin == ("recap:retour-journee",)
    assert overrides.move == {"recap:atelier-velo": "participation"}


def test_the_documented_example_is_valid(tmp_path: Path) -> None:
    page = (REPO / "docs" / "themes-and-overrides.md").read_text(encoding="utf-8")
    example = page.split("```markdown\n")[1].split("```")[0]
    config = make_config(tmp_path)
    write(tmp_path, "2023-W19.md", example.replace("mobilite", "climat"))
    overrides = load_overrides(config, "2023-W19")
    assert overrides.pin[1] == "recap:cantines-bio-et-locales-somme"
    assert overrides.exclude == ("https://partenaire.example.org/offre-d-emploi",)
    assert overrides.edito_markdown.endswith("— L'équipe du Cerdd")


def run_build(tmp_path: Path, overrides: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "recaps").mkdir(exist_ok=True)
    (tmp_path / "recaps" / "2023-05-10-atelier.md").write_text(
        "---\ntitle: Atelier participation\ndate: 2023-05-10\n---\nUn atelier.\n", "utf-8"
    )
    (tmp_path / "issues").mkdir()
    (tmp_path / "issues" / "2023-W19.md").write_text(overrides, encoding="utf-8")
    config = CONFIG.format(folder="issues").replace(
        "  - name: Partenaire\n    url: https://partenaire.example.org/feed.xml\n",
        "  - name: Le Cerdd\n    path: recaps\n",
    )
    (tmp_path / "feeds.yaml").write_text(config + "store: digest.db\n", encoding="utf-8")
    command = [sys.executable, "-m", "digest", "--config", str(tmp_path / "feeds.yaml")]
    command += ["build", "--week", "2023-W19", "--out", str(tmp_path / "out"), "--offline"]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120)


def test_build_stops_on_a_bad_overrides_file_with_exit_2(tmp_path: Path) -> None:
    done = run_build(tmp_path, "---\npins: []\nmove:\n  https://a.example/x: climate\n---\n")
    assert done.returncode == 2
    overrides = tmp_path / "issues" / "2023-W19.md"
    assert done.stderr.startswith(
        f"erreur : 2 problèmes dans le fichier d'ajustements {overrides} :\n"
    )
    assert "2023-W19.md:2: pins: clé inconnue 'pins' : vouliez-vous dire 'pin' ?" in done.stderr
    assert "2023-W19.md:4: move.https://a.example/x: thème inconnu 'climate'" in done.stderr
    assert not (tmp_path / "out").exists()


def test_build_pins_a_recap_and_warns_about_what_matches_nothing(tmp_path: Path) -> None:
    done = run_build(tmp_path, "---\npin: [atelier.md, https://a.example/gone]\n---\nBonjour\n")
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "2023-W19.md : pin https://a.example/gone ne correspond à aucun article de 2023-W19" in (
        output
    )
    data = json.loads((tmp_path / "out" / "digest.json").read_text(encoding="utf-8"))
    assert [i["title"] for i in data["featured"]["items"]] == ["Atelier participation"]


def test_the_summary_counts_what_the_issue_shows_and_agenda_moves_keep_their_date(
    tmp_path: Path,
) -> None:
    # One of two recaps excluded, the other moved to the agenda without an event date.
    (tmp_path / "recaps").mkdir()
    (tmp_path / "recaps" / "2023-05-11-jardin.md").write_text(
        "---\ntitle: Jardin partagé\ndate: 2023-05-11\n---\nUn jardin.\n", "utf-8"
    )
    overrides = "---\nexclude: [jardin.md]\nmove:\n  atelier.md: agenda\n---\n"
    done = run_build(tmp_path, overrides)
    assert done.returncode == 0, done.stderr
    assert "1 article dans la lettre" in done.stdout
    data = json.loads((tmp_path / "out" / "digest.json").read_text(encoding="utf-8"))
    assert (data["stats"]["items"], data["stats"]["shown"]) == (2, 1)
    assert [i["title"] for i in data["agenda"]["items"]] == ["Atelier participation"]
    text = (tmp_path / "out" / "digest.txt").read_text(encoding="utf-8")
    block = text[text.index("* Atelier participation") :].splitlines()[:3]
    assert block[1] == "Le Cerdd · mercredi\u00a010\u00a0mai", block
    html = (tmp_path / "out" / "web.html").read_text(encoding="utf-8")
    assert '<p class="event"></p>' not in html and "Le Cerdd · mercredi\u00a010\u00a0mai" in html


def test_check_validates_every_overrides_file(tmp_path: Path) -> None:
    (tmp_path / "issues").mkdir()
    (tmp_path / "issues" / "2023-W19.md").write_text("---\npin: [atelier.md]\n---\nBonjour\n")
    (tmp_path / "issues" / "2023-W20.md").write_text(
        "---\nmove:\n  https://a.example/x: climt\n---\n"
    )
    (tmp_path / "issues" / "README.md").write_text("# Ce dossier\n")  # not an issue: ignored
    config = tmp_path / "feeds.yaml"
    config.write_text(CONFIG.format(folder="issues"), encoding="utf-8")
    command = [sys.executable, "-m", "digest", "--config", str(config), "check"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "1 problème dans le fichier d'ajustements" in done.stderr
    assert "2023-W20.md:3: move.https://a.example/x: thème inconnu 'climt'" in done.stderr
    assert "2023-W19" not in done.stderr and "README" not in done.stderr
    (tmp_path / "issues" / "2023-W20.md").unlink()
    again = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert again.returncode == 0, again.stderr


def test_an_edit_keeps_the_comments_before_the_first_key(tmp_path: Path) -> None:
    """The shipped overrides file explains itself to staff in comments at its top: a pin from
    the console (or any edit through digest/editing) writes them back as they were."""
    from digest.editing.overrides_file import edit, exclude, open_overrides, pin

    config = make_config(tmp_path)
    shipped = (REPO / "content" / "issues" / "2023-W19.md").read_text(encoding="utf-8")
    path = write(tmp_path, "2023-W19.md", shipped)
    head = shipped.split("\npin:")[0]  # "---" and the comment block
    current = open_overrides(config, "2023-W19")
    edit(config, "2023-W19", lambda v: pin(v, "https://a.example.org/une"), current.fingerprint)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(head + "\npin:\n")
    assert "https://a.example.org/une" in text and "L'équipe du Cerdd" in text
    assert load_overrides(config, "2023-W19").pin[-1] == "https://a.example.org/une"
    yaml_file = write(
        tmp_path, "2023-W20.yaml", "# Semaine calme.\n\n# Rien à signaler.\ntitle: X\n"
    )
    again = open_overrides(config, "2023-W20")
    edit(config, "2023-W20", lambda v: exclude(v, "https://b.example.org/x"), again.fingerprint)
    assert yaml_file.read_text(encoding="utf-8").startswith(
        "# Semaine calme.\n\n# Rien à signaler.\ntitle: X\nexclude:\n"
    )
