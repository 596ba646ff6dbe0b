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
from digest.render.flowed import flowed
from digest.render.limits import MAX_HTML_BYTES, carried_size
from digest.render.templates import clip_runs
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
    # The lead story and how many items follow, in 60 characters, then the name.
    head, name = rendered.subject.rsplit(" — ", 1)
    assert head == "Retour sur la deuxième journée… et 5 autres articles"
    assert len(head) <= 60 and name == "La lettre du Cerdd"
    assert rendered.preheader.startswith(f"Bonne lecture{NNBSP}! Cette semaine")
    assert str(escape(rendered.preheader)) in rendered.html  # the hidden preview text


def test_placeholders_once_each_and_unchanged(rendered: RenderedIssue) -> None:
    # The web page link twice: "Voir dans le navigateur" on top, "Transférer" below.
    counts = {"unsubscribe_url": 1, "preferences_url": 1, "view_url": 2}
    for name, placeholder in PLACEHOLDERS.items():
        assert rendered.html.count(placeholder) == counts[name], placeholder
        assert rendered.text.count(placeholder) == counts[name], placeholder
        assert placeholder not in rendered.web
    assert f'href="{PLACEHOLDERS["unsubscribe_url"]}"' in rendered.html
    assert f'href="{PLACEHOLDERS["view_url"]}"' in rendered.html
    assert f'href="{PLACEHOLDERS["preferences_url"]}"' in rendered.html
    # Content that spelled a placeholder (title, summary, URL) was neutralised.
    for output in (rendered.html, rendered.text, rendered.web):
        assert output.count("%%") == (8 if output is not rendered.web else 0)
    assert "a%25%view_url%25%b" in rendered.html


def test_html_is_safe_french_and_small(rendered: RenderedIssue) -> None:
    html = rendered.html
    assert '<html lang="fr"' in html and '<html lang="fr"' in rendered.web
    assert "<script" not in html.lower() and "<script" not in rendered.web.lower()
    assert "Titre &lt;script&gt;alert(1)&lt;/script&gt; et" in html
    assert "fonts.googleapis" not in html and "@import" not in html
    assert rendered.html_bytes == len(html.encode("utf-8")) < MAX_HTML_BYTES
    assert f"<title>{rendered.subject}</title>" in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in rendered.web
    assert 'href="https://lettre.example.org/inscription"' in rendered.web
    assert 'href="https://lettre.example.org/archives/">Archives de la lettre</a>' in rendered.web


def test_no_rust_escapes_leak_from_mrml(rendered: RenderedIssue) -> None:
    # MRML writes a no-break space inside an attribute as "\\u{a0}"; feed texts with French
    # typography end up in image alt texts, where readers would see the escape.
    assert "\\u{" not in rendered.html
    assert 'alt="Carte des 40 actions du plan climat"' in rendered.html


def test_a_french_subject_keeps_its_no_break_spaces_in_the_title_and_aria_label(
    tmp_path: Path,
) -> None:
    # MRML copies the title into the body's aria-label, where it would write "\\u{a0}".
    issue = golden_issue()
    assert issue.featured is not None
    lead = replace(issue.featured.items[0], title="Hausse de 12 % le dimanche 14 mai")
    featured = replace(issue.featured, items=(lead,))
    result = render_issue(replace(issue, featured=featured), make_config(tmp_path))
    assert "\\u{" not in result.html
    label = re.findall(r'aria-label="([^"]*)"', result.html)[0]
    title = re.findall(r"<title>([^<]*)</title>", result.html)[0]
    expected = f"Hausse de 12{NBSP}% le dimanche{NBSP}14{NBSP}mai et 5 autres articles"
    assert unescape(label).startswith(expected) and unescape(title).startswith(expected)


def test_french_dates(rendered: RenderedIssue) -> None:
    for output in (rendered.html, rendered.text, rendered.web):
        # No-break spaces (render.typography): "14 mai" never breaks across lines.
        assert f"Semaine du 8 au 14{NBSP}mai{NBSP}2023" in output
        assert f"Récits · jeudi{NBSP}11{NBSP}mai" in output
        assert f"jeudi{NBSP}1er{NBSP}juin, 14{NBSP}h — Arras" in output


def test_french_typography_on_text_never_in_urls(rendered: RenderedIssue) -> None:
    html = rendered.html
    assert f"Plan climat{NBSP}: la Métropole" in html
    assert f"«{NBSP}pratique{NBSP}» pour les élu-es{NNBSP}; " in html
    assert f"à lire absolument</a>{NNBSP}!" in html
    assert f"Bonne lecture{NNBSP}!" in html and f"l’honneur</a>{NBSP}: «{NBSP}coopérer" in html
    assert 'href="https://www.cerdd.org/dossier?id=3:4"' in html
    assert 'href="https://www.la27eregion.fr/manuel?format=pdf&amp;lang=fr"' in html
    assert f"Plan climat{NBSP}: la Métropole" in rendered.text
    assert "→ https://www.la27eregion.fr/manuel?format=pdf&lang=fr" in unflowed(rendered.text)
    # A summary's link keeps its URL as written, French spaces stay around it.
    assert '<a href="https://www.la27eregion.fr/manuel.pdf" style="' in html
    assert f"à lire absolument (https://www.la27eregion.fr/manuel.pdf){NNBSP}!" in unflowed(
        rendered.text
    )


def test_email_blocks(rendered: RenderedIssue) -> None:
    html = rendered.html
    # No "Abonnez-vous !" block for subscribers: one quiet link for forwarded copies.
    assert 'href="https://lettre.example.org/inscription"' in html  # S'inscrire
    assert "Abonnez-vous" not in html and "Abonnez-vous" in rendered.web
    assert f"On vous a transféré cette lettre{NNBSP}?" in html
    assert "Lettre du Cerdd · lettre@example.org" in html
    assert "Le Cerdd, 1 rue de l’Exemple, 62000 Arras" in html  # the postal address
    assert '<a href="https://www.linkedin.com/company/exemple/"' in html
    assert '<a href="mailto:lettre@example.org"' in html
    assert "Transférer à un·e collègue" in html and "Transférer à un·e collègue" in rendered.text
    assert 'alt="Logo de La lettre du Cerdd"' in html
    images = re.findall(r"<img\b[^>]*>", html)
    assert len(images) == 3
    for image in images:
        assert re.search(r'\bwidth="\d+"', image) and re.search(r'\balt="[^"]*"', image)
    # A picture with no alt text of its own is decoration: never "Illustration : <title>".
    assert 'alt=""' in html and "Illustration" not in html
    # Its link stays for a tap, hidden from screen readers and the tab order: the title's
    # link says where it goes (axe: a link without text).
    decorative = '<a href="https://www.cerdd.org/actualites/journee-territoires-participatifs"'
    assert f'{decorative} target="_blank" aria-hidden="true" tabindex="-1"><img alt=""' in html
    assert '<a href="https://climat.example.org/plan-climat" target="_blank"><img' in html


def test_every_item_leads_somewhere(rendered: RenderedIssue) -> None:
    html = rendered.html
    assert html.count("Lire la suite →") == 6 and rendered.text.count("Lire la suite →") == 6
    # Pictures are links to their article.
    assert re.search(r'<a href="https://climat.example.org/plan-climat"[^>]*><img', html)
    # A recap with no link of its own leads to its place on the issue's web page.
    anchor = "https://lettre.example.org/archives/2023-W19/#item-k-recit"
    assert f'href="{anchor}"' in html and f"Lire la suite → {anchor}" in unflowed(rendered.text)
    assert '<article class="item" id="item-k-recit">' in rendered.web


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
    # format=flowed: lines of 72 at most but for unbreakable URLs, "Voir dans le
    # navigateur" first.
    assert all(len(line) <= 72 or " " not in line.strip() for line in rendered.text.splitlines())
    assert rendered.text.startswith(f"Voir dans le navigateur{NBSP}: {PLACEHOLDERS['view_url']}")


def test_english(tmp_path: Path) -> None:
    result = render_issue(golden_issue(), make_config(tmp_path, language="en"))
    assert result.subject == (
        "Retour sur la deuxième journée régionale… and 5 more stories — La lettre du Cerdd"
    )
    assert "Read more →" in result.html and "Forward to a colleague" in result.text
    assert '<html lang="en"' in result.html
    assert "Week of 8–14 May 2023" in result.text
    assert "Récits · Thursday 11 May" in result.html
    assert "Plan climat : la Métropole" in result.html  # no French spaces in English
    assert "Subscribe!" in result.web and "Unsubscribe" in result.text


def test_utm_tags_item_links_only_when_asked(tmp_path: Path) -> None:
    plain = render_issue(golden_issue(), make_config(tmp_path))
    assert "utm_" not in plain.html + plain.text + plain.web
    tagged = render_issue(golden_issue(), make_config(tmp_path, utm=True))
    tags = "utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign=2023-W19"
    assert f'href="https://climat.example.org/plan-climat?{tags}&amp;utm_content=climat"' in (
        tagged.html
    )
    assert "format=pdf&lang=fr&utm_source=newsletter" in unflowed(tagged.text)
    assert "utm_" not in tagged.web
    # A summary's links are the partner's too; the web page keeps them as published.
    assert 'href="https://www.la27eregion.fr/manuel.pdf?utm_source=newsletter' in tagged.html
    assert 'href="https://www.la27eregion.fr/manuel.pdf">' in tagged.web
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
    assert result.subject.endswith("— La lettre Bcc\u00a0: x@y.z")


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
    assert "La 27e Région</p>" in result.html and "\nLa 27e Région\n" in result.text


def test_an_empty_issue_still_renders(tmp_path: Path) -> None:
    issue = replace(
        golden_issue(), sections=(), featured=None, agenda=None, edito_html="", edito_text=""
    )
    result = render_issue(issue, make_config(tmp_path))
    assert result.preheader == f"Semaine du 8 au 14{NBSP}mai{NBSP}2023"
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


def unflowed(text: str) -> str:
    """What a format=flowed reader shows (RFC 3676): soft-broken lines joined, unstuffed."""
    lines: list[str] = []
    joined = ""
    for line in text.split("\n"):
        line = line[1:] if line.startswith(" ") else line
        joined += line
        if not line.endswith(" "):
            lines.append(joined)
            joined = ""
    return "\n".join([*lines, *([joined] if joined else [])])


@pytest.mark.parametrize(
    "text",
    [
        "court",
        ("Un long paragraphe de mots ordinaires, " * 8).strip(),
        "From the start, a line that mail servers would mangle " * 2,
        "> not a quote, but it looks like one " * 3 + "\n  indented line",
        "https://x.org/" + "a" * 100 + " then words " * 10,
        f"12{NNBSP}% et 14{NBSP}mai ne cassent pas " * 6,
    ],
)
def test_flowed_text_reads_back_as_written(text: str) -> None:
    folded = flowed(text)
    assert unflowed(folded) == "\n".join(line.rstrip(" ") for line in text.split("\n"))
    for line in folded.split("\n"):
        # 72 with the soft break's space; RFC 3676's 78 leaves room for a stuffed space.
        assert len(line) - line.startswith(" ") <= 72 or " " not in line.strip()
        assert not line.startswith(("From ", ">"))  # space-stuffed


def test_overrides_subject_and_preheader_win(tmp_path: Path) -> None:
    issue = replace(
        golden_issue(), subject="  La une de la semaine :\n la coopération ", preheader="Et aussi"
    )
    result = render_issue(issue, make_config(tmp_path))
    assert result.subject == f"La une de la semaine{NBSP}: la coopération"
    assert result.preheader == "Et aussi"
    assert f"<title>{result.subject}</title>" in unescape(result.html)  # &#xa0; for MRML


@pytest.mark.parametrize(
    ("language", "expected"),
    [("fr", "Retour sur la deuxième journée régionale… et 1 autre article — La lettre du Cerdd"),
     ("en", "Retour sur la deuxième journée régionale… and 1 more story — La lettre du Cerdd")],
)  # fmt: skip
def test_subject_counts_the_items_that_follow(tmp_path: Path, language: str, expected: str) -> None:
    issue = golden_issue()
    first = replace(issue.sections[0], items=issue.sections[0].items[:1])
    one_more = replace(issue, sections=(first,), agenda=None)
    result = render_issue(one_more, make_config(tmp_path, language=language))
    assert result.subject == expected


def test_summary_links_are_safe_links(tmp_path: Path) -> None:
    issue = golden_issue()
    item = replace(
        issue.sections[0].items[0],
        summary_text="Voir <la liste> des lauréats, puis le bilan. Écrire aussi.",
        # As a hostile feed could leave it if a stage upstream slipped: only http(s) links
        # become links, with nothing but href, their text escaped.
        summary_html=(
            '<p>Voir <a href="https://x.org/liste?a=1&amp;b=2" title="t">&lt;la liste&gt;</a>'
            ' des lauréats, puis <a href="javascript:alert(1)">le bilan</a>.'
            ' <a href="mailto:a@x.org">Écrire</a> aussi.</p>'
        ),
    )
    sections = (replace(issue.sections[0], items=(item,)), *issue.sections[1:])
    result = render_issue(replace(issue, sections=sections), make_config(tmp_path))
    link = '<a href="https://x.org/liste?a=1&amp;b=2" style="'
    assert link in result.html and "&lt;la liste&gt;</a> des lauréats, puis le bilan." in (
        result.html
    )
    assert '<a href="https://x.org/liste?a=1&amp;b=2">&lt;la liste&gt;</a>' in result.web
    assert "Voir <la liste> (https://x.org/liste?a=1&b=2) des lauréats" in unflowed(result.text)
    for output in (result.html, result.text, result.web):
        assert "javascript:" not in output and 'title="t"' not in output
        assert "mailto:a@x.org" not in output.split("Nous écrire")[0]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (2, (("Voir ", None), ("la…", "u"))),
        (3, (("Voir ", None), ("la liste", "u"), ("…", None))),
        (4, (("Voir ", None), ("la liste", "u"), (" des…", None))),
        (9, (("Voir ", None), ("la liste", "u"), (" des lauréats.", None))),
    ],
)
def test_clip_runs_keeps_links_where_they_fall(
    words: int, expected: tuple[tuple[str, str | None], ...]
) -> None:
    runs = (("Voir ", None), ("la liste", "u"), (" des lauréats.", None))
    assert clip_runs(runs, words) == expected
