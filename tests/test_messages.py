"""The message catalogue (docs/messages.md): both languages complete and in step, the .pot up
to date with the code, no sentence left in code, staff's own wording, and a catalogue that
loads without its compiled .mo files."""

from __future__ import annotations

import ast
import os
import re
import shutil
import string
import subprocess
import sys
from gettext import GNUTranslations
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from digest import i18n
from digest.errors import ConfigError
from digest.i18n import (
    LANGUAGES,
    LOCALE_DIR,
    MissingMessage,
    catalogue_files,
    gettext_locale_dir,
    is_plural,
    load_catalogue,
    messages,
    override_problems,
    say,
)
from digest.render import render_issue
from tests.golden_plugin import golden_issue, make_config

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "digest"
POT = LOCALE_DIR / "digest.pot"


def read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as stream:
        return read_po(stream, locale=language)


def entries(catalog: Catalog) -> dict[str, Message]:
    """msgid (the singular, for a plural entry) → its message, header left out."""
    return {key(m): m for m in catalog if m.id}


def key(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def texts(message: Message) -> list[str]:
    string_ = message.string
    return list(string_) if isinstance(string_, tuple | list) else [string_]


def fields(text: str) -> set[str]:
    """The placeholder names of a brace-format text ("{count:>3}" and "{name!r}" included)."""
    names = (name for _, name, _, _ in string.Formatter().parse(text) if name)
    return {re.split(r"[.\[]", name)[0] for name in names}


def base_fields(text: str) -> set[str]:
    """The fields a caller passes: `{n_s}` is say()'s plural of the int field `n`."""
    found = fields(text)
    return {name[:-2] if name.endswith("_s") and name != "_s" else name for name in found}


@pytest.fixture(scope="module")
def catalogues() -> dict[str, dict[str, Message]]:
    return {lang: entries(read(catalogue_files(lang)[0], lang)) for lang in LANGUAGES}


def test_every_key_has_a_text_in_every_language(
    catalogues: dict[str, dict[str, Message]],
) -> None:
    template = entries(read(POT))
    assert len(template) > 100
    for language, found in catalogues.items():
        assert found.keys() == template.keys(), f"{language}: run `make messages`"
        for name, message in found.items():
            assert all(texts(message)), f"{language}: {name} has no text"
            assert not message.fuzzy, f"{language}: {name} is fuzzy: check it, drop the flag"


def test_both_languages_fill_in_the_same_fields(
    catalogues: dict[str, dict[str, Message]],
) -> None:
    french, english = catalogues["fr"], catalogues["en"]
    for name, message in french.items():
        for text, other in zip(texts(message), texts(english[name]), strict=False):
            assert base_fields(text) == base_fields(other), name
        if not name.replace("_", "").replace(".", "").isalnum():  # click's own msgids
            ids = [message.id] if isinstance(message.id, str) else list(message.id)
            given = set().union(*map(fields, ids))
            for text in texts(message):
                assert fields(text) <= given and (len(ids) > 1 or fields(text) == given), name


def _key_calls() -> list[tuple[str, str, set[str]]]:
    """(where, key, keyword fields) of every say(x, "key", ...) and t("key", ...) call with
    a literal key and explicit fields only."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            position = {"say": 1, "t": 0}.get(node.func.id)
            if position is None or len(node.args) <= position:
                continue
            literal = node.args[position]
            if not isinstance(literal, ast.Constant) or not isinstance(literal.value, str):
                continue
            if any(keyword.arg is None for keyword in node.keywords):  # **fields: unknown
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            found.append((where, literal.value, {k.arg for k in node.keywords if k.arg}))
    return found


def test_every_call_passes_the_fields_its_message_uses(
    catalogues: dict[str, dict[str, Message]],
) -> None:
    calls = _key_calls()
    assert len(calls) > 60  # the check looks at the code it means to
    for where, name, passed in calls:
        for language, found in catalogues.items():
            assert name in found, f"{where}: no {name!r} in the {language} catalogue"
            for text in texts(found[name]):
                assert base_fields(text) <= passed, f"{where}: {name} ({language})"


def _makefile_keywords() -> list[str]:
    line = re.search(r"^KEYWORDS = (.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert line, "the Makefile names the extraction keywords"
    return line[1].split()


def test_the_template_is_up_to_date_with_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `make messages` would extract now is what digest.pot holds: a message said in
    code or in a template but missing from the catalogue, or a key no longer used, fails."""
    monkeypatch.chdir(ROOT)
    fresh = tmp_path / "fresh.pot"
    command = ["pybabel", "-q", "extract", "--mapping-file", "babel.cfg", *_makefile_keywords()]
    CommandLineInterface().run([*command, "--output-file", str(fresh), "."])
    assert entries(read(fresh)).keys() == entries(read(POT)).keys(), "run `make messages`"


def test_no_sentence_left_in_code() -> None:
    for gone in ("wording.py", "render/words.py", "templates/site/messages.yaml"):
        assert not (PACKAGE / gone).exists(), gone
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                assert node.id not in ("PHRASES", "WORDS", "LABELS", "CATALOGS"), where
            if isinstance(node, ast.Dict):  # a table of wording per language
                names = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                assert not {"fr", "en"} <= names, f"{where}:{node.lineno}"
            if isinstance(node, ast.IfExp) and _picks_a_sentence_by_language(node):
                raise AssertionError(f"{where}:{node.lineno}: a sentence per language in code")


def _picks_a_sentence_by_language(node: ast.IfExp) -> bool:
    """`"texte" if language == "fr" else "text"`."""
    compared = [c.value for c in ast.walk(node.test) if isinstance(c, ast.Constant)]
    branches = (node.body, node.orelse)
    plain = all(isinstance(b, ast.Constant) and isinstance(b.value, str) for b in branches)
    return plain and any(value in LANGUAGES for value in compared)


def test_a_missing_key_fails_loudly() -> None:
    with pytest.raises(MissingMessage) as caught:
        say("fr", "run.no_such_thing")
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == "no message 'run.no_such_thing' in the 'fr' catalogue"
    assert not messages("en").has("run.no_such_thing") and messages("en").has("run.build")
    with pytest.raises(ValueError, match="no catalogue for language 'de'"):
        say("de", "run.build")


def test_one_plural_rule_from_cldr() -> None:
    assert [is_plural("fr", n) for n in (0, 1, 2, 1_000_000)] == [False, False, True, True]
    assert [is_plural("en", n) for n in (0, 1, 2)] == [True, False, True]
    assert say("fr", "send.would_send", issue="2023-W19", count=0).endswith("0 abonné")
    assert say("en", "send.would_send", issue="2023-W19", count=0).endswith("0 subscribers")
    assert say("fr", "send.would_send", issue="2023-W19", count=2).endswith("2 abonnés")
    assert say("en", "send.would_send", issue="2023-W19", count=1).endswith("1 subscriber")


def test_a_catalogue_loads_without_its_mo_file(tmp_path: Path) -> None:
    """A plain `pip install -e .` has no .mo; an edited .po must not be served stale."""
    po = tmp_path / "digest.po"
    po.write_bytes(catalogue_files("fr")[0].read_bytes())
    missing = tmp_path / "digest.mo"
    catalogue = load_catalogue(po, missing, "fr")
    assert catalogue.gettext("issue.status.sent") == "envoyée"
    missing.write_bytes(b"not a catalogue")  # an old .mo...
    os.utime(po, ns=(missing.stat().st_mtime_ns + 10**9,) * 2)  # ...older than its .po
    assert load_catalogue(po, missing, "fr").gettext("issue.status.sent") == "envoyée"


STAFF_PO = """\
# Our own words for the newsletter.
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

msgid "email.edito"
msgstr "Le mot de l'équipe"

msgid "email.unsubscribe"
msgstr ""
"""


def test_staff_wording_comes_first(tmp_path: Path) -> None:
    """A .po in the `templates:` folder's locale/ overrides the package's messages one by
    one (an empty msgstr keeps the package's): email, web page and dates alike."""
    folder = tmp_path / "my-templates"
    (folder / "locale").mkdir(parents=True)
    (folder / "locale" / "fr.po").write_text(STAFF_PO, encoding="utf-8")
    ours = messages("fr", folder)
    assert say(ours, "email.edito") == "Le mot de l'équipe"
    assert say(ours, "email.unsubscribe") == "Se désinscrire"  # untranslated: the package's
    assert say(ours, "date.first_day") == "1er"
    assert say(messages("en", folder), "email.edito") == "Editorial"  # no en.po: the package's
    with pytest.raises(MissingMessage):
        say(ours, "email.nothing_like_it")
    rendered = render_issue(golden_issue(), make_config(tmp_path, templates=folder))
    assert "LE MOT DE L'ÉQUIPE" in rendered.text and "Le mot de l&#39;équipe" in rendered.web
    assert "Le mot de l&#39;équipe" in rendered.html and "Se désinscrire" in rendered.html
    default = render_issue(golden_issue(), make_config(tmp_path))
    assert "Le mot de" not in default.web and "Édito" in default.web


def test_an_edited_staff_file_is_read_again(tmp_path: Path) -> None:
    po = tmp_path / "locale" / "en.po"
    po.parent.mkdir()
    po.write_text('msgid "email.edito"\nmsgstr "Our word"\n', encoding="utf-8")
    assert say(messages("en", tmp_path), "email.edito") == "Our word"
    po.write_text('msgid "email.edito"\nmsgstr "A word from us"\n', encoding="utf-8")
    os.utime(po, ns=(po.stat().st_mtime_ns + 10**9,) * 2)
    assert say(messages("en", tmp_path), "email.edito") == "A word from us"


BAD_PO = """\
msgid "email.edito"
msgstr "Édito de {author}"

msgid "email.editto"
msgstr "Édito"

msgid "email.logo_alt"
msgstr "Logo : {title"

msgid "date.week"
msgstr "Semaine {range}"
"""


def test_a_staff_file_with_mistakes_is_refused_whole(tmp_path: Path) -> None:
    """Before a reader sees a broken email: every mistake named with its line."""
    po = tmp_path / "locale" / "fr.po"
    po.parent.mkdir()
    po.write_text(BAD_PO, encoding="utf-8")
    assert override_problems(po, "fr") == [
        f"{po}:1 : email.edito utilise {{author}}, que digest ne lui donne pas (il donne : —)",
        f"{po}:4 : « email.editto » n'est pas un message de digest (faute de frappe ?)",
        f"{po}:7 : email.logo_alt utilise {{, que digest ne lui donne pas (il donne : {{title}})",
    ]
    with pytest.raises(ConfigError) as caught:
        messages("fr", tmp_path)
    assert caught.value.problems == override_problems(po, "fr") and caught.value.exit_code == 2
    po.write_bytes(b"\xff\xfe not a po file")
    [unreadable] = override_problems(po, "fr")
    assert unreadable.startswith(f"{po} : pas un fichier .po lisible (")


def test_digest_check_lists_the_mistakes_of_a_staff_file(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    (folder / "locale").mkdir(parents=True)
    (folder / "locale" / "fr.po").write_text(BAD_PO, encoding="utf-8")
    config = tmp_path / "feeds.yaml"
    config.write_text(
        'newsletter:\n  title: "Lettre"\nsources:\n  - name: "A"\n    path: a.xml\n'
        "templates: templates\n",
        encoding="utf-8",
    )
    (tmp_path / "a.xml").write_text("<rss/>", encoding="utf-8")
    command = [sys.executable, "-m", "digest", "--config", str(config), "check"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    run = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    assert run.returncode == 2, run.stderr
    assert "fr.po:4 : « email.editto » n'est pas un message de digest" in run.stderr
    assert "supprimez l'entrée pour revenir au texte de digest" in run.stderr


def test_gettext_gets_mo_files_even_without_make(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """click's words need .mo files on disk: written beside a stale .po as __pycache__ is,
    or, in a read-only install, in a private folder."""
    folder = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, folder, ignore=shutil.ignore_patterns("*.mo"))
    assert gettext_locale_dir(folder) == folder
    fr_mo = catalogue_files("fr", folder)[1]
    with fr_mo.open("rb") as stream:
        assert GNUTranslations(stream).gettext("Usage:") == "Utilisation :"
    os.utime(catalogue_files("fr", folder)[0], ns=(fr_mo.stat().st_mtime_ns + 10**9,) * 2)
    monkeypatch.setattr(i18n, "_write_atomically", _read_only)
    private = gettext_locale_dir(folder)
    assert private != folder
    with catalogue_files("en", private)[1].open("rb") as stream:
        assert GNUTranslations(stream).gettext("help.build.offline").startswith("No network")


def _read_only(path: Path, data: bytes) -> None:
    raise PermissionError(13, "Read-only file system", str(path))
