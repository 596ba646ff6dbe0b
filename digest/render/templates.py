"""Template environments (cached per override folder) and template errors as RenderError.

A broken template must tell staff which file and which line, whether the fault is Jinja
syntax, an unknown variable (StrictUndefined) or anything raised while rendering.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from markupsafe import Markup, escape

from ..config import Config
from ..errors import RenderError
from ..i18n import messages, t
from .environment import make_env

EMAIL_MJML = "email.mjml"
EMAIL_TEXT = "email.txt"
WEB_HTML = "web.html"
TEXT_WIDTH = 72

_ENVS: dict[tuple[Path | None, bool], jinja2.Environment] = {}


_CUT_ENDS = ",;:–-\u202f\u00a0"  # what a cut text does not end with, before its "…"


def clip(text: str, words: int) -> str:
    """The first `words` words of `text`, with an ellipsis when something was cut."""
    parts = text.split(" ")
    if len(parts) <= words:
        return text
    return " ".join(parts[:words]).rstrip(_CUT_ENDS) + "…"


Run = tuple[str, str | None]  # a piece of a summary and its link (view.Run)


def clip_runs(runs: tuple[Run, ...], words: int) -> tuple[Run, ...]:
    """`clip` for a summary in runs: the first `words` words, links kept where they fall."""
    if len(runs) == 1 and runs[0][1] is None:  # most summaries: no link
        return ((clip(runs[0][0], words), None),)
    counts = [len(text.split(" ")) - text.split(" ").count("") for text, _ in runs]
    if sum(counts) <= words:
        return runs
    kept: list[Run] = []
    for (text, url), count in zip(runs, counts, strict=True):
        if count <= words:
            kept.append((text, url))
            words -= count
            continue
        head = " ".join([w for w in text.split(" ") if w][:words])
        if head or not kept:
            kept.append((" " * text.startswith(" ") + head.rstrip(_CUT_ENDS) + "…", url))
        else:  # the cut falls between two runs: the ellipsis follows the last one
            kept[-1:] = [(kept[-1][0].rstrip(" " + _CUT_ENDS), kept[-1][1]), ("…", None)]
        break
    return tuple(kept)


def runs_html(runs: tuple[Run, ...], words: int = 0, style: str = "") -> Markup:
    """A summary's runs as HTML (`words` > 0: clipped): each link an <a> with its href and
    `style` only, every text escaped. A filter rather than a template loop: it runs for
    every item of every render (limits.fit renders several times), ~4x faster."""
    if words:
        runs = clip_runs(runs, words)
    attribute = f' style="{escape(style)}"' if style else ""
    return Markup(
        "".join(
            f'<a href="{escape(url)}"{attribute}>{escape(text)}</a>' if url else escape(text)
            for text, url in runs
        )
    )


def runs_text(runs: tuple[Run, ...]) -> str:
    """A summary's runs for the text part: each link as "text (URL)"."""
    return "".join(f"{text} ({url})" if url and url != text else text for text, url in runs)


def wrap(text: str, indent: str = "", width: int = TEXT_WIDTH) -> str:
    """One-line `text` folded at spaces for the plain-text part, each line indented.

    Only ASCII spaces break a line, so French no-break spaces hold; a word longer than a
    line (a URL) is left whole. (textwrap does the same but costs 10x more.)
    """
    if len(text) + len(indent) <= width:
        return indent + text
    lines: list[str] = []
    line = indent
    for word in text.split(" "):
        if len(line) + len(word) + 1 > width and line.strip():
            lines.append(line)
            line = indent
        line = line + " " + word if line.strip() else line + word
    lines.append(line)
    return "\n".join(lines)


def environment(config: Config, *, autoescape: bool) -> jinja2.Environment:
    """The environment for `config`'s override folder, built once (templates compile once)."""
    key = (config.templates, autoescape)
    env = _ENVS.get(key)
    if env is None:
        env = make_env(config, autoescape=autoescape)
        env.filters["clip"] = clip
        env.filters["wrap"] = wrap
        env.filters["clip_runs"] = clip_runs
        env.filters["runs_html"] = runs_html
        env.filters["runs_text"] = runs_text
        _ENVS[key] = env
    return env


def _where(tb: TracebackType | None, name: str) -> str:
    """The last template frame of a traceback: Jinja maps its line to the template's line."""
    where = name
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.endswith(".py") and not filename.startswith("<"):
            where = t("render.where", file=filename, line=tb.tb_lineno)
        tb = tb.tb_next
    return where


def render_template(config: Config, name: str, *, autoescape: bool, **context: Any) -> str:
    """Render template `name` with `context` and `_`, the catalogue in the newsletter's
    language (`_("email.featured")`); any failure becomes a RenderError naming file and
    line."""
    env = environment(config, autoescape=autoescape)
    words = messages(config.newsletter.language, config.templates)
    try:
        return env.get_template(name).render(_=words, **context)
    except jinja2.TemplateSyntaxError as exc:
        where = t("render.where", file=exc.filename or exc.name or name, line=exc.lineno)
        raise RenderError(_failed(where, exc.message), hint=t("render.hint")) from exc
    except jinja2.TemplateNotFound as exc:
        raise RenderError(t("render.not_found", name=exc.name), hint=t("render.hint")) from exc
    except Exception as exc:  # anything raised while rendering: name where it happened
        where = _where(exc.__traceback__, name)
        raise RenderError(_failed(where, exc), hint=t("render.hint")) from exc


def _failed(where: str, error: object) -> str:
    """What failed where: `template email.mjml, line 12: 'x' is undefined` (Jinja's own
    words stay English)."""
    return t("render.failed", where=where, error=error)
