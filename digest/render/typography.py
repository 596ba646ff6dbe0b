"""French typography on text only: no-break spaces and typographic apostrophes.

Only French text gets it (`is_french`): an item's own language decides for its title and
summary, the newsletter's language for the rest (see render.view); dates follow the
newsletter's language (render.dates).

`typo_text` takes plain text (before escaping); `typo_html` takes sanitized HTML and
changes only the text between tags (never inside `<code>` or `<pre>`), so attributes and
URLs are never touched. URLs are never passed here: the templates print them as they are;
a URL or an address typed in a text keeps its apostrophes.

Which space where (docs/rendering.md, "French typography"): a narrow no-break space
(U+202F) before ; ! ? and between thousands groups (what Babel's CLDR data writes in
"1 500"); a no-break space (U+00A0) before : and inside « » (Imprimerie nationale), before
% and units (Babel writes "12 %" and "14 km" so), in "9 h 30", "14 mai", "dimanche 14",
"mai 2023" and "n° 3": these are word spaces that must only not break.
Most rules replace a space the author typed; the only ones that add characters are the
space before a glued ; ! ? : and the groups of a number of 5 digits or more followed by a
unit ("25000 €" → "25 000 €"): a 4-digit number may be a year, a 5-digit one before a
word a postal code ("75011 Paris"), so both stay as written.
"""

from __future__ import annotations

import html
import re

NNBSP = "\u202f"  # narrow no-break space: before ; ! ?, between thousands
NBSP = "\u00a0"  # no-break space: before : % and units, inside « », in dates and times

_SPACE = "[ \t\u00a0\u202f]"
# A space (or none after a word) before ; ! ? followed by a space or the end. Requiring
# the space after keeps "10:30", "http://", "?id=3" and "&amp;" intact; an entity a plain
# text quotes ("&amp;", "&#39;") is left whole. Each pattern starts with the character it
# is about (the regex engine skips to it), its lookbehinds come after.
_TALL_SPACED = re.compile(rf"{_SPACE}+([;!?]+)")
_TALL_GLUED = re.compile(
    r"[;!?](?<=[\w»)\]…][;!?])"
    + "".join(rf"(?<!&[#\w]{{{n}}};)" for n in range(2, 8))
    + r"[;!?]*(?=\s|$)"
)
_COLON_SPACED = re.compile(rf"{_SPACE}+:")
_COLON_GLUED = re.compile(r":(?<=[\w»)\]]:)(?=\s|$)")
_OPEN_QUOTE = re.compile(rf"«{_SPACE}*")
_CLOSE_QUOTE = re.compile(rf"{_SPACE}*»")

# Units and currencies that take a no-break space after a number.
_UNITS = frozenset(
    "% ‰ ° °C °F € $ £ m m² m³ km km² km/h cm mm g kg mg t l L cl ml W kW kWh MW GW Wh"
    " ko Mo Go To ha h min".split()
)
_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def _after(words: tuple[str, ...]) -> str:
    """Lookbehinds for `words` and a space, lower case or capitalised (a lookbehind must
    have a fixed width: one per word)."""
    return "|".join(rf"(?<=\b[{w[0]}{w[0].upper()}]{w[1:]} )" for w in words)


# What may follow a number and take a no-break space: a symbol, or a short word that
# `_space` looks up in _UNITS and _MONTHS ("3 mois" stays as it is).
_WORD = r"(?:[%‰€$£]|°[CF]?|[^\W\d_]{1,9}+(?:[²³]|/h)?)(?![\w'’])"
# A space the author typed next to a number, to become no-break: the pattern starts with
# that space, so the engine skips from space to space, and only spaces by a digit (or
# after "1er") go further. Narrow in "1 500" (a left group of 1 to 3 digits: "2023 100
# personnes" stays); plain in "12 %", "14 °C", "14 mai", "1er mai", "9 h 30", "n° 3",
# "dimanche 14", "mai 2023".
_AROUND_NUMBERS = re.compile(
    " (?:"
    rf"(?<=\d )(?:(?={_WORD})|(?=\d{{3}}(?!\d))(?<!\d{{4}} ))"
    rf"|(?<=\b1er )(?={_WORD})"
    r"|(?=\d)(?:(?<=\d[ \u00a0]h )(?=\d\d(?!\d))|(?<=\b[nN][°º] )"
    rf"|(?:{_after(_WEEKDAYS)})(?=(?:[12]?\d|3[01]|1er)(?!\w))"
    rf"|(?:{_after(_MONTHS)})(?=\d{{4}}(?!\d)))"
    ")"
)
_WORD_AT = re.compile(r"[%‰€$£]|°[CF]?|[^\W\d_]+(?:[²³]|/h)?")
# 5 digits or more, not part of a code ("A12345", "3.14159", "/20230514"), before a unit
# (the first digit comes before the lookbehind: the engine skips to digits).
_LONG_NUMBER = re.compile(
    r"[1-9](?<![\w.,/+-][1-9])\d{4,}(?=(?:,\d+)?[ \u00a0](?P<unit>[%‰€$£]|°[CF]?|\w{1,3})"
    r"(?![\w'’]))"
)
_DIGIT = re.compile(r"\d")
# An apostrophe between two letters: l'action, aujourd'hui.
_ELISION = re.compile(r"'(?<=[^\W\d_]')(?=[^\W\d_])")
# A word with an apostrophe, when the text may hold a URL or an address: they keep theirs.
_APOSTROPHE_WORD = re.compile(r"[^\s']*'\S*")
# A tag, with quoted attribute values that may hold '>' themselves.
_TAG = re.compile(r"(<(?:[^>\"']|\"[^\"]*\"|'[^']*')*>)")
_NEEDS_WORK = re.compile(r"[;!?:«»'%\d]")
_CODE_TAG = re.compile(r"<(/?)(?:code|pre|kbd|samp)\b", re.IGNORECASE)


def typo_text(text: str) -> str:
    """`text` with French no-break spaces and apostrophes; text with nothing to change
    (no such punctuation, digit or apostrophe) is returned as is."""
    # Each rule runs only when its trigger is there: most text has little of it.
    if ";" in text or "!" in text or "?" in text:
        text = _TALL_GLUED.sub(NNBSP + r"\g<0>", _TALL_SPACED.sub(NNBSP + r"\1", text))
    if ":" in text:
        text = _COLON_GLUED.sub(NBSP + ":", _COLON_SPACED.sub(NBSP + ":", text))
    if "«" in text:
        text = _OPEN_QUOTE.sub("«" + NBSP, text)
    if "»" in text:
        text = _CLOSE_QUOTE.sub(NBSP + "»", text)
    if "'" in text:
        text = _apostrophes(text)
    if _DIGIT.search(text) and " " in text:
        text = _AROUND_NUMBERS.sub(_space, _LONG_NUMBER.sub(_grouped, text))
    return text


def _apostrophes(text: str) -> str:
    """Typographic apostrophes between letters, except in URLs and e-mail addresses."""
    if "://" not in text and "@" not in text and "www." not in text:
        return _ELISION.sub("’", text)
    return _APOSTROPHE_WORD.sub(_word_apostrophes, text)


def _word_apostrophes(match: re.Match[str]) -> str:
    word = match.group()
    if "://" in word or "@" in word or word.lower().startswith("www."):
        return word
    return _ELISION.sub("’", word)


def _space(match: re.Match[str]) -> str:
    """The space `_AROUND_NUMBERS` found: narrow between two digit groups, plain no-break
    before another number or a unit or a month, as it was before any other word."""
    text, end = match.string, match.end()
    if text[end].isdigit():
        return NNBSP if text[match.start() - 1].isdigit() else NBSP
    found = _WORD_AT.match(text, end)
    word = found.group() if found else ""
    return NBSP if word in _UNITS or word.lower() in _MONTHS else " "


def _grouped(match: re.Match[str]) -> str:
    """A long number before a unit, in groups of three: "25000 €" → "25 000 €"."""
    if match.group("unit") not in _UNITS:
        return match.group()
    return f"{int(match.group()):,}".replace(",", NNBSP)


def typo_html(fragment: str) -> str:
    """Sanitized HTML with `typo_text` applied to its text nodes only (code left alone)."""
    if not _NEEDS_WORK.search(fragment):
        return fragment
    parts = _TAG.split(fragment)
    code = 0  # how deep in <code>/<pre> the text is
    # split() with one group alternates text, tag, text, ...: even indexes are text.
    for index, part in enumerate(parts):
        if index % 2:
            code = _code_depth(part, code)
        elif not code and _NEEDS_WORK.search(part):
            parts[index] = html.escape(typo_text(html.unescape(part)), quote=False)
    return "".join(parts)


def _code_depth(tag: str, depth: int) -> int:
    """`depth` after `tag`: one more inside an opening code/pre, one less after its end."""
    found = _CODE_TAG.match(tag)
    if found is None:
        return depth
    return max(depth - 1, 0) if found.group(1) else depth + 1


def is_french(language: str | None) -> bool:
    """True for `fr` and its regional tags (`fr-fr`, `fr-CA`...)."""
    return language is not None and language.split("-")[0].lower() == "fr"
