"""Render errors: a broken override template is reported with its file and line."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import digest
from digest.errors import RenderError
from digest.render import render_issue
from digest.render.environment import DEFAULT_TEMPLATES
from tests.golden_plugin import golden_issue, make_config


def _override(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "my-templates"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def _render_with(tmp_path: Path, name: str, text: str) -> RenderError:
    folder = _override(tmp_path, name, text)
    with pytest.raises(RenderError) as caught:
        render_issue(golden_issue(), make_config(tmp_path, templates=folder))
    assert caught.value.hint
    return caught.value


def test_jinja_syntax_error_names_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the staff language: French by default, English with DIGEST_LANG=en (Jinja's own
    words stay English)."""
    broken = "<mjml>\n<mj-body>\n{% if %}\n</mj-body>\n"
    template = tmp_path / "my-templates" / "email.mjml"
    error = _render_with(tmp_path, "email.mjml", broken)
    assert error.message.startswith(f"modèle {template}, ligne 3 : ")
    assert error.hint == (
        "corrigez le modèle, ou supprimez votre copie pour revenir au modèle par défaut"
    )
    monkeypatch.setenv("DIGEST_LANG", "en")
    error = _render_with(tmp_path, "email.mjml", broken)
    assert error.message.startswith(f"template {template}, line 3: ")
    assert error.hint == "fix the template, or delete your copy of it to use the default again"


@pytest.mark.usefixtures("english_staff")
def test_unknown_variable_names_file_and_line(tmp_path: Path) -> None:
    error = _render_with(tmp_path, "email.txt", "{{ issue.title }}\n\n{{ issue.no_such_field }}\n")
    assert "email.txt, line 3" in error.message and "no_such_field" in error.message


@pytest.mark.usefixtures("english_staff")
def test_mjml_error_names_the_template_line(tmp_path: Path) -> None:
    default = (DEFAULT_TEMPLATES / "email.mjml").read_text(encoding="utf-8")
    # The header's <mj-column> is left open: its line (which holds Jinja expressions) is
    # the one to fix, not the </mj-section> where the parser notices.
    broken = default.replace(
        "</mj-column></mj-section>\n{% if issue.edito_html %}",
        "</mj-section>\n{% if issue.edito_html %}",
    )
    assert broken != default
    lines = broken.splitlines()
    opened = next(n for n, text in enumerate(lines, 1) if "border-top=" in text)
    assert lines[opened - 1].endswith("<mj-column>")
    error = _render_with(tmp_path, "email.mjml", broken)
    assert "the MJML does not compile" in error.message
    assert f"email.mjml, line {opened}:" in error.message


@pytest.mark.usefixtures("english_staff")
def test_stray_closing_tag_names_its_line(tmp_path: Path) -> None:
    default = (DEFAULT_TEMPLATES / "email.mjml").read_text(encoding="utf-8")
    broken = default.replace("</mj-body>", "</mj-column>\n</mj-body>")
    line = broken.splitlines().index("</mj-column>") + 1
    folder = _override(tmp_path, "email.mjml", broken)
    try:
        render_issue(golden_issue(), make_config(tmp_path, templates=folder))
    except RenderError as error:
        assert f"email.mjml, line {line}:" in error.message
    else:
        pytest.fail("MRML compiled a stray </mj-column>")


def test_a_template_without_unsubscribe_link_is_refused(tmp_path: Path) -> None:
    default = (DEFAULT_TEMPLATES / "email.txt").read_text(encoding="utf-8")
    without = default.replace("{{ placeholders.unsubscribe_url }}", "")
    error = _render_with(tmp_path, "email.txt", without)
    assert error.message == "le modèle email.txt n'a pas de lien de désinscription"
    assert error.hint == "mettez {{ placeholders.unsubscribe_url }} dans son pied de page"


def test_an_override_replaces_one_file_only(tmp_path: Path) -> None:
    folder = _override(tmp_path, "web.html", "<p>{{ issue.title }} — {{ issue.period }}</p>\n")
    (folder / "README.md").write_text("# Nos modèles\n", encoding="utf-8")  # not a template
    result = render_issue(golden_issue(), make_config(tmp_path, templates=folder))
    assert result.web == "<p>La lettre du Cerdd — Semaine du 8 au 14\u00a0mai\u00a02023</p>\n"
    # The email and its text part still come from the package's defaults, unchanged.
    default = render_issue(golden_issue(), make_config(tmp_path))
    assert "S’inscrire" in result.html
    assert (result.html, result.text, result.subject) == (
        default.html,
        default.text,
        default.subject,
    )
    assert default.web != result.web
    # Deleting the copy brings the default back.
    (folder / "web.html").unlink()
    again = render_issue(golden_issue(), make_config(tmp_path, templates=folder))
    assert again.web == default.web


def test_the_defaults_ship_inside_the_package() -> None:
    """The installed package carries its own templates (DESIGN §2): a real folder inside
    digest/, every file of it listed in pyproject's package-data, so a wheel has them."""
    package = Path(digest.__file__).resolve().parent
    assert not DEFAULT_TEMPLATES.is_symlink()
    assert DEFAULT_TEMPLATES.resolve().parent == package
    shipped = {p for p in DEFAULT_TEMPLATES.rglob("*") if p.is_file()}
    names = {p.relative_to(DEFAULT_TEMPLATES).as_posix() for p in shipped}
    assert {"email.mjml", "email.txt", "web.html", "site/home.html", "site/site.css"} <= names
    pyproject = tomllib.loads((package.parent / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["digest"]
    packaged = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    assert shipped - packaged == set()


def test_inline_mj_style_of_an_override_is_applied(tmp_path: Path) -> None:
    default = (DEFAULT_TEMPLATES / "email.mjml").read_text(encoding="utf-8")
    rule = '<mj-style inline="inline">h3 a { color: #123456; font-style: italic; }</mj-style>'
    with_style = default.replace("</mj-head>", rule + "\n</mj-head>")
    folder = _override(tmp_path, "email.mjml", with_style)
    result = render_issue(golden_issue(), make_config(tmp_path, templates=folder))
    linked = re.findall(r'<a href="https://climat[^"]*" style="([^"]*)"', result.html)
    # Applied, and (as with MJML) a style written on the element itself wins.
    assert linked and "font-style: italic" in linked[0] and "color: #14532d" in linked[0]
    assert result.html.count('href="%%unsubscribe_url%%"') == 1
    assert "<!--[if mso | IE]>" in result.html  # Outlook's conditional tables survive
