"""Render: the golden issue's email, text part and web page, and the rules they keep."""

from __future__ import annotations

import re
from dataclasses import replace
from html import unescape
from pathlib import Path

import pytest
from markupsafe import escape

from digest.delivery.message import _qp_text
from digest.errors import RenderError
from digest.render import PLACEHOLDERS, RenderedIssue, render_issue
from digest.render.limits import MAX_HTML_BYTES, carried_size
from digest.render.view import tag_url
from tests.golden_plugin import GOLDEN, golden_issue, make_config, sized_issue

HERE = Path(__file__).parent
NNBSP, NBSP = "\u202f", "\u00a0"


@pytest.fixture(scope="module")
def rendered() -> RenderedIssue:
    return render_issue(golden_issue(), make_config(HERE))


@pytest.mark.parametrize(
    ("name", "attribute"), [("digest.html", "html"), ("digest.txt", "text"), ("web.html", "web")]
)
def test_golden_files(
    rendered: RenderedIssue, regen_golden: bool, name: str, attribute: str
) -> None:
    actual = getattr(rendered, attribute)
    path = GOLDEN / name
    if regen_golden:
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} changed: review it, then run pytest --regen-golden"


def test_subject_and_preheader(rendered: RenderedIssue) -> None:
    assert rendered.subject == "La lettre du Cerdd — semaine du 8 au 14 mai 2023"
    assert rendered.preheader.startswith(f"Bonne lecture{NNBSP}! Cette semaine")
    assert str(escape(rendered.preheader)) in rendered.html  # the hidden preview text


def test_placeholders_once_each_and_unchanged(rendered: RenderedIssue) -> None:
    for placeholder in PLACEHOLDERS.values():
        assert rendered.html.count(placeholder) == 1, placeholder
        assert rendered.text.count(placeholder) == 1, placeholder
        assert placeholder not in rendered.web
    assert f'href="{PLACEHOLDERS["unsubscribe_url"]}"' in rendered.html
    assert f'href="{PLACEHOLDERS["view_url"]}"' in rendered.html
    # Content that spelled a placeholder (title, summary, URL) was neutralised.
    for output in (rendered.html, rendered.text, rendered.web):
        assert output.count("%%") == (4 if output is not rendered.web else 0)
    assert "a%25%view_url%25%b" in rendered.html


def test_html_is_safe_french_and_small(rendered: RenderedIssue) -> None:
    html = rendered.html
    assert '<html lang="fr"' in html and '<html lang="fr"' in rendered.web
    assert "<script" not in html.lower() and "<script" not in rendered.web.lower()
    assert "Titre &lt;script&gt;alert(1)&lt;/script&gt; et" in html
    assert "fonts.googleapis" not in html and "@import" not in html
    assert rendered.html_bytes == len(html.encode("utf-8")) < MAX_HTML_BYTES
    assert "<title>La lettre du Cerdd — semaine du 8 au 14 mai 2023</title>" in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in rendered.web
    assert 'href="https://lettre.example.org/inscription"' in rendered.web
    assert 'href="https://lettre.example.org/archives/">Archives de la lettre</a>' in rendered.web


def test_no_rust_escapes_leak_from_mrml(rendered: RenderedIssue) -> None:
    # MRML writes a no-break space inside an attribute as "\\u{a0}"; titles with French
    # typography end up in image alt texts, where readers would see the escape.
    assert "\\u{" not in rendered.html
    assert 'alt="Illustration : Plan climat : la Métropole lance sa concertation"' in rendered.html


def test_french_dates(rendered: RenderedIssue) -> None:
    for output in (rendered.html, rendered.text, rendered.web):
        assert "Semaine du 8 au 14 mai 2023" in output
        assert "Récits · jeudi 11 mai" in output
        assert "jeudi 1er juin, 14 h — Arras" in output


def test_french_typography_on_text_never_in_urls(rendered: RenderedIssue) -> None:
    html = rendered.html
    assert f"Plan climat{NBSP}: la Métropole" in html
    assert f"«{NBSP}pratique{NBSP}» pour les élu-es{NNBSP}; à lire absolument{NNBSP}!" in html
    assert f"Bonne lecture{NNBSP}!" in html and f"l'honneur</a>{NBSP}: «{NBSP}coopérer" in html
    assert 'href="https://www.cerdd.org/dossier?id=3:4"' in html
    assert 'href="https://www.la27eregion.fr/manuel?format=pdf&amp;lang=fr"' in html
    assert f"Plan climat{NBSP}: la Métropole" in rendered.text
    assert "→ https://www.la27eregion.fr/manuel?format=pdf&lang=fr" in rendered.text


def test_email_blocks(rendered: RenderedIssue) -> None:
    html = rendered.html
    assert 'href="https://lettre.example.org/inscription"' in html  # S'inscrire
    assert f"Abonnez-vous{NNBSP}!" in html and "DD &amp; Climat" in html
    assert "Lettre du Cerdd · lettre@example.org" in html
    assert 'alt="Logo de La lettre du Cerdd"' in html
    images = re.findall(r"<img\b[^>]*>", html)
    assert len(images) == 3
    for image in images:
        assert re.search(r'\bwidth="\d+"', image) and re.search(r'\balt="[^"]+"', image)


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_text_part_same_items_same_order(rendered: RenderedIssue) -> None:
    in_html = [
        unescape(re.sub(r"<[^>]+>", "", h)) for h in re.findall(r"<h3.*?</h3>", rendered.html)
    ]
    blocks = rendered.text.split("\n* ")[1:]
    assert len(in_html) == len(blocks) == 6
    for title, block in zip(in_html, blocks, strict=True):
        assert _squeeze(block).startswith(_squeeze(title)), (title, block)
    assert all(len(line) <= 72 for line in rendered.text.splitlines() if "→ " not in line)


def test_english(tmp_path: Path) -> None:
    result = render_issue(golden_issue(), make_config(tmp_path, language="en"))
    assert result.subject == "La lettre du Cerdd — week of 8–14 May 2023"
    assert '<html lang="en"' in result.html
    assert "Week of 8–14 May 2023" in result.text
    assert "Récits · Thursday 11 May" in result.html
    assert "Plan climat : la Métropole" in result.html  # no French spaces in English
    assert "Subscribe!" in result.html and "Unsubscribe" in result.text


def test_utm_tags_item_links_only_when_asked(tmp_path: Path) -> None:
    plain = render_issue(golden_issue(), make_config(tmp_path))
    assert "utm_" not in plain.html + plain.text + plain.web
    tagged = render_issue(golden_issue(), make_config(tmp_path, utm=True))
    tags = "utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign=2023-W19"
    assert f'href="https://climat.example.org/plan-climat?{tags}&amp;utm_content=climat"' in (
        tagged.html
    )
    assert "format=pdf&lang=fr&utm_source=newsletter" in tagged.text
    assert "utm_" not in tagged.web
    assert 'href="https://lettre.example.org/inscription"' in tagged.html


def test_tag_url_replaces_existing_utm() -> None:
    url = tag_url("https://x.org/a?utm_source=rss&id=3#top", "2023-W19", "climat")
    assert url == (
        "https://x.org/a?id=3&utm_source=newsletter&utm_medium=email"
        "&utm_campaign=2023-W19&utm_content=climat#top"
    )


def test_500_items_fit_under_the_limit_with_the_footer(tmp_path: Path) -> None:
    result = render_issue(sized_issue(500), make_config(tmp_path))
    # The limit holds for the HTML as the message carries it (quoted-printable).
    assert len(_qp_text(result.html)) <= MAX_HTML_BYTES
    assert result.html_bytes < len(_qp_text(result.html))
    assert result.html.count(PLACEHOLDERS["unsubscribe_url"]) == 1
    kept = result.html.count("<h3")
    assert 20 < kept < 500
    assert f"{500 - kept} autres articles sont à lire dans la version en ligne." in result.html
    assert result.text.count("\n* ") == kept and "Se désinscrire" in result.text
    assert result.web.count("<h3") == 500  # the web page keeps the whole issue
    # Summaries were shortened before items were dropped.
    assert "mot15…" in result.html and "mot16" not in result.html


@pytest.mark.usefixtures("english_staff")
def test_an_edito_too_large_for_any_email_fails_clearly(tmp_path: Path) -> None:
    issue = replace(golden_issue(), edito_html="<p>" + "Un édito bien trop long. " * 5000 + "</p>")
    with pytest.raises(RenderError, match="even without any item") as caught:
        render_issue(issue, make_config(tmp_path))
    assert caught.value.hint and "edito" in caught.value.hint


def test_control_characters_never_reach_the_subject(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    newsletter = replace(config.newsletter, title="La lettre\r\nBcc: x@y.z\x07")
    result = render_issue(golden_issue(), replace(config, newsletter=newsletter))
    assert not re.search(r"[\x00-\x1f\x7f]", result.subject)
    assert result.subject.startswith("La lettre Bcc")


def test_hostile_links_and_edito_never_reach_the_email(tmp_path: Path) -> None:
    issue = golden_issue()
    bad = replace(
        issue.sections[0].items[0],
        url="javascript:alert(1)",
        image="data:image/png;base64,AAAA",
        published=None,
    )
    sections = (replace(issue.sections[0], items=(bad,)), *issue.sections[1:])
    edito = '<p onclick="x()">Édito<script>alert(2)</script><img src="javascript:y()"></p>'
    result = render_issue(
        replace(issue, sections=sections, edito_html=edito), make_config(tmp_path)
    )
    for output in (result.html, result.text, result.web):
        assert "javascript:" not in output and "data:image" not in output
        assert "onclick" not in output and "alert(2)" not in output
    # The undated item is shown with its source only.
    assert "La 27e Région</p>" in result.html and "  La 27e Région\n" in result.text


def test_an_empty_issue_still_renders(tmp_path: Path) -> None:
    issue = replace(
        golden_issue(), sections=(), featured=None, agenda=None, edito_html="", edito_text=""
    )
    result = render_issue(issue, make_config(tmp_path))
    assert result.preheader == "Semaine du 8 au 14 mai 2023"
    assert "<h2" not in result.html and "<h3" not in result.html
    assert result.html.count(PLACEHOLDERS["unsubscribe_url"]) == 1
    assert "\n* " not in result.text


@pytest.mark.parametrize(
    "html",
    [
        "<p>Été à l'école : « économie » circulaire, déjà réussie !</p>\n" * 400,
        '<a href="https://x.org/?a=1&amp;b=2" style="color:#1a1a1a;">lien</a>' * 600,
        "x" * 20_000 + "\n" + "é" * 9_000,
        "",
    ],
)
def test_carried_size_is_a_close_upper_bound_of_quoted_printable(html: str) -> None:
    real = len(_qp_text(html))
    assert real <= carried_size(html) <= real * 1.03 + 3


def test_an_accented_issue_is_trimmed_by_its_encoded_size(tmp_path: Path) -> None:
    # Accents weigh 6 bytes in quoted-printable: untrimmed, this email is 97 KB in UTF-8
    # (under the limit, it would go out whole) but 155 KB in the message.
    issue = sized_issue(40)
    accented = tuple(
        replace(s, items=tuple(replace(i, summary_text="é" * 300) for i in s.items))
        for s in issue.sections
    )
    result = render_issue(replace(issue, sections=accented), make_config(tmp_path))
    assert len(_qp_text(result.html)) <= MAX_HTML_BYTES
    assert "autres articles sont à lire dans la version en ligne" in result.html
