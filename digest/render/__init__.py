"""Render: an Issue becomes the email (MJML compiled to HTML), its text part and its web page.

    render_issue(issue, config) -> RenderedIssue      raises RenderError (template + line)
    render_cuts(issue, config, cuts) -> [RenderedIssue]   the issue with only some sections

The HTML and text parts carry the per-subscriber PLACEHOLDERS, which delivery replaces;
the web page has none. The email HTML stays under limits.MAX_HTML_BYTES (see limits.py).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from ..config import Config
from ..errors import RenderError
from ..i18n import messages, t
from ..models import Issue
from .email import render_email
from .flowed import flowed
from .limits import MAX_HTML_BYTES, fit, size
from .placeholders import PLACEHOLDERS
from .templates import EMAIL_TEXT, WEB_HTML, render_template
from .view import IssueView, IssueViews, build_view

__all__ = [
    "MAX_HTML_BYTES",
    "PLACEHOLDERS",
    "RenderError",
    "RenderedIssue",
    "render_cuts",
    "render_issue",
]


@dataclass(frozen=True)
class RenderedIssue:
    """What `digest build` writes and `digest send` sends."""

    subject: str  # no control characters
    preheader: str
    html: str  # the email HTML, with the per-subscriber placeholders
    text: str  # the plain-text part (format=flowed), with the same placeholders
    web: str  # the archive page: the whole issue, no per-subscriber link
    html_bytes: int


def render_issue(issue: Issue, config: Config) -> RenderedIssue:
    """Render the three outputs of `issue`; the email is trimmed to fit the size limit."""
    return _render_view(build_view(issue, config), config)


def render_cuts(
    issue: Issue, config: Config, cuts: Iterable[Collection[str]]
) -> list[RenderedIssue]:
    """`issue` rendered once per cut, each keeping only the sections (theme ids) it names,
    besides the edito, "À la une" and the agenda (render/cuts.py)."""
    views = IssueViews(issue, config)
    return [_render_view(views.cut(kept), config) for kept in cuts]


def _render_view(view: IssueView, config: Config) -> RenderedIssue:
    words = messages(view.lang, config.templates)
    sent, html = fit(view, lambda v: render_email(v, config), words)
    text = _render_text(sent, config)
    for output, name in ((html, "email.mjml"), (text, EMAIL_TEXT)):
        _check_placeholders(output, name)
    web = render_template(config, WEB_HTML, autoescape=True, issue=view)
    return RenderedIssue(
        subject=view.subject,
        preheader=view.preheader,
        html=html,
        text=text,
        web=web,
        html_bytes=size(html),
    )


def _render_text(view: IssueView, config: Config) -> str:
    """The text part, folded as format=flowed (delivery labels it so)."""
    text = render_template(
        config, EMAIL_TEXT, autoescape=False, issue=view, placeholders=PLACEHOLDERS
    )
    return flowed(text)


def _check_placeholders(output: str, name: str) -> None:
    """A template without the unsubscribe link must not reach anyone (the law requires it)."""
    if PLACEHOLDERS["unsubscribe_url"] not in output:
        raise RenderError(
            t("render.no_unsubscribe", name=name),
            hint=t("render.no_unsubscribe_hint", tag="{{ placeholders.unsubscribe_url }}"),
        )
