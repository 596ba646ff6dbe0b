"""The docs stay true: every config key and every command is documented and has help, the
pages build with mkdocs in strict mode, and the README stays a short front page."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from digest.cli import cli
from digest.docs import section
from digest.i18n import LANGUAGES, messages

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = {path.name: path.read_text(encoding="utf-8") for path in (ROOT / "docs").glob("*.md")}
# A link from the README into docs/: page and optional anchor.
DOCS_LINK = re.compile(r"\]\(docs/([\w-]+)\.md(?:#([\w-]+))?\)")


def commands(group: click.Group, prefix: str = "digest") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    context = click.Context(group)
    # Through list_commands/get_command: the commands `digest` imports only when used too.
    loaded = {name: group.get_command(context, name) for name in group.list_commands(context)}
    for name, command in sorted((n, c) for n, c in loaded.items() if c is not None):
        found.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            found += commands(command, f"{prefix} {name}")
    return found


def test_config_reference_matches_the_key_tables() -> None:
    assert section() in PAGES["configuration.md"], "run: python -m digest.docs"


def test_every_command_is_documented_and_has_help() -> None:
    listed = commands(cli)
    assert {"digest build", "digest check"} <= {name for name, _ in listed}
    docs = "\n".join([README, *PAGES.values()])
    for name, command in listed:
        assert command.help and command.help.strip(), f"{name} has no help"
        assert f"`{name}" in docs, f"{name} is not in the README nor in docs/"


def test_readme_stays_short() -> None:
    # The README is the front page; the reference belongs in docs/.
    assert len(README.splitlines()) < 250


def test_readme_minimal_config_passes_check(tmp_path: Path) -> None:
    example = README.split("```yaml\n")[1].split("```")[0]
    (tmp_path / "feeds.yaml").write_text(example, encoding="utf-8")
    (tmp_path / "content" / "recaps").mkdir(parents=True)
    config = str(tmp_path / "feeds.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "digest", "--config", config, "check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not done.stderr, done.stderr  # not even a warning


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site_dir = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--site-dir",
            str(site_dir),
            "--config-file",
            str(ROOT / "mkdocs.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    return site_dir


def test_docs_build_in_strict_mode(site: Path) -> None:
    # Strict: a broken link or anchor, or a page missing from nav, fails the build.
    assert (site / "index.html").is_file()
    assert {f"{name.removesuffix('.md')}" for name in PAGES if name != "index.md"} <= {
        path.name for path in site.iterdir() if path.is_dir()
    }


def test_readme_links_into_docs_lead_somewhere(site: Path) -> None:
    # mkdocs does not see the README, so its links are checked against the built pages.
    links = DOCS_LINK.findall(README)
    assert links
    for page, anchor in links:
        assert f"{page}.md" in PAGES, f"README links to a missing page: docs/{page}.md"
        if anchor:
            html = (site / ("" if page == "index" else page) / "index.html").read_text("utf-8")
            assert f'id="{anchor}"' in html, f"README links to a missing anchor: {page}#{anchor}"


def test_every_help_text_is_in_the_catalogue() -> None:
    """Help texts are keys (help.build), shown in the staff language: both must have them."""
    for name, command in [("digest", cli), *commands(cli)]:
        texts = [command.help] + [p.help for p in command.params if isinstance(p, click.Option)]
        for text in texts:
            assert text, f"{name}: an option has no help"
            for language in LANGUAGES:
                assert messages(language).has(text), f"{name}: {text} ({language})"
