"""`digest build` end to end, as cron and staff run it: a real process, real files, a real
loopback feed server, a real SQLite store.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.http_server import FeedServer

ROOT = Path(__file__).parent.parent
GOLDEN_JSON = Path(__file__).parent / "golden" / "build-2023-W19.json"
AS_OF = "2023-05-15T07:00:00+02:00"
HOSTILE = ("<script", "javascript:", "onclick", "<iframe", "pixel.gif", "alert(")


def digest(
    *args: str, cwd: Path | None = None, lang: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    if lang:
        env["DIGEST_LANG"] = lang
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
    )


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    """The shipped feeds.yaml, content/ and templates/ (the staff's overrides), copied so the
    test writes no store in the repo."""
    shutil.copy(ROOT / "feeds.yaml", tmp_path / "feeds.yaml")
    shutil.copytree(ROOT / "content", tmp_path / "content")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    return tmp_path / "feeds.yaml"


def build_shipped(config: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return digest(
        "--config", str(config), "build", "--offline", "--week", "2023-W19",
        "--as-of", AS_OF, "--out", str(out),
    )  # fmt: skip


def all_items(data: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = [data["featured"], *data["sections"], data["agenda"]]
    return [item for block in blocks if block for item in block["items"]]


def test_shipped_week_builds_offline(shipped: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = build_shipped(shipped, out)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "digest.html", "digest.json", "digest.txt", "web.html",
    ]  # fmt: skip
    assert run.stdout.startswith("2023-W19 : 6 sources sur 6 lues, 0 en échec ; ")
    assert f"→ {out}/" in run.stdout
    assert run.stderr == ""  # the demo reads every partner's snapshot: nothing to warn about
    data = json.loads((out / "digest.json").read_text(encoding="utf-8"))
    assert data["issue"] == "2023-W19"
    assert data["period"] == {
        "start": "2023-05-08T00:00:00+02:00",
        "end": "2023-05-15T00:00:00+02:00",
    }
    items = all_items(data)
    assert len(items) == data["stats"]["items"] >= 12
    assert data["stats"]["duplicates_merged"] >= 2
    titles = [item["title"] for item in items]
    assert len(titles) == len(set(titles)), "an item appears twice"
    sample = "Retour sur la deuxième journée régionale du réseau des Territoires Participatifs"
    assert sample in titles and not any("2e journée" in t for t in titles)
    for item in items:
        assert item["url"] is None or item["url"].startswith(("https://", "http://"))
        assert "utm_" not in (item["url"] or "")
        assert {"key", "title", "url", "published", "source", "summary"} <= set(item)
    statuses = {s["name"]: (s["status"], s["error"]) for s in data["sources"]}
    assert set(statuses.values()) == {("ok", None)} and len(statuses) == 6


def test_shipped_week_carries_no_hostile_content(shipped: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert build_shipped(shipped, out).returncode == 0
    for name in ("digest.html", "digest.txt", "web.html", "digest.json"):
        text = (out / name).read_text(encoding="utf-8").lower()
        for marker in HOSTILE:
            assert marker not in text, f"{marker} in {name}"


def test_shipped_week_matches_the_golden_json(
    shipped: Path, tmp_path: Path, regen_golden: bool
) -> None:
    out = tmp_path / "out"
    assert build_shipped(shipped, out).returncode == 0
    produced = (out / "digest.json").read_text(encoding="utf-8")
    if regen_golden:
        GOLDEN_JSON.write_text(produced, encoding="utf-8")
    assert produced == GOLDEN_JSON.read_text(encoding="utf-8"), "run pytest --regen-golden"


def test_rebuild_is_identical_and_the_store_keeps_the_issue(shipped: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert build_shipped(shipped, first).returncode == 0
    assert build_shipped(shipped, second).returncode == 0
    for name in ("digest.html", "digest.txt", "digest.json", "web.html"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    from digest.store import Store

    with Store(tmp_path / "digest.db") as store:
        stored = store.issue("2023-W19")
    assert stored is not None and stored.status == "built"
    assert stored.html == (first / "digest.html").read_text(encoding="utf-8")


def test_an_alias_bomb_recap_is_reported_and_the_issue_built(shipped: Path, tmp_path: Path) -> None:
    # 350 bytes whose `date:` once stood for 43 million strings, quoted whole in the error.
    lines = ["a: &a [" + ", ".join(['"lol"'] * 9) + "]"]
    lines += [
        f"{n}: &{n} [" + ", ".join([f"*{p}"] * 9) + "]"
        for p, n in zip("abcdefg", "bcdefgh", strict=True)
    ]
    bomb = "---\n" + "\n".join(lines) + "\ndate: *h\n---\n# Bombe\n"
    assert len(bomb) < 400
    (shipped.parent / "content" / "recaps" / "2023-05-10-bombe.md").write_text(bomb)
    out = tmp_path / "out"
    run = build_shipped(shipped, out)
    assert run.returncode == 0, run.stderr[:2000]
    produced = (out / "digest.json").read_text(encoding="utf-8")
    assert len(produced) < len(GOLDEN_JSON.read_text(encoding="utf-8")) + 1000
    data = json.loads(produced)
    (recaps,) = [s for s in data["sources"] if s["name"] == "Le Cerdd"]
    assert recaps["status"] == "ok" and recaps["items"] >= 3
    assert recaps["error"].startswith(
        "1 récap sur 6 non lu : 2023-05-10-bombe.md:2: les ancres et alias (&, *) ne sont pas"
        " permis dans l'en-tête"
    )
    assert len(recaps["error"]) < 300
    titles = [item["title"] for item in all_items(data)]
    assert (
        "Retour sur la deuxième journée régionale du réseau des Territoires Participatifs" in titles
    )
    assert len(run.stdout) + len(run.stderr) < 5000
    assert (tmp_path / "digest.db").stat().st_size < 2_000_000


def online_config(folder: Path, server: FeedServer, *feeds: tuple[str, str]) -> Path:
    recaps = folder / "recaps"
    recaps.mkdir()
    (recaps / "2023-05-10-atelier.md").write_text(
        "---\ntitle: Atelier climat à Lille\ndate: 2023-05-10\n"
        "url: https://www.cerdd.org/atelier-climat\n---\n\n"
        "Trente personnes ont travaillé sur l'adaptation au changement climatique.\n",
        encoding="utf-8",
    )
    lines = ["newsletter:", "  title: Lettre test", "sources:"]
    for name, path in feeds:
        lines += [f'  - name: "{name}"', f'    url: "{server.url(path)}"']
    lines += ['  - name: "Le Cerdd"', '    path: "recaps"', "fetch:", "  deadline: 3"]
    config = folder / "feeds.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def test_a_broken_feed_is_reported_and_the_issue_built(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    config = online_config(
        tmp_path, feed_server, ("Biodiversité", "/etag/rss20.xml"), ("Cassé", "/status/500")
    )
    out = tmp_path / "out"
    run = digest("--config", str(config), "build", "--week", "2023-W19", "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert "2 sources sur 3 lues, 1 en échec" in run.stdout
    assert "✗ Cassé" in run.stderr and "500" in run.stderr
    data = json.loads((out / "digest.json").read_text(encoding="utf-8"))
    sources = {s["name"]: s for s in data["sources"]}
    assert sources["Cassé"]["status"] == "error" and sources["Cassé"]["error"]
    assert sources["Biodiversité"]["status"] == "ok" and sources["Biodiversité"]["items"] >= 3
    titles = [item["title"] for item in all_items(data)]
    assert "Atelier climat à Lille" in titles
    assert "Atlas de la biodiversité communale : 12 nouvelles communes engagées" in titles


def test_why_a_source_failed_is_said_in_the_staff_language(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """The build summary and digest.json's sources[].error: French for a French newsletter,
    English with DIGEST_LANG=en."""
    config = online_config(
        tmp_path, feed_server, ("Biodiversité", "/feeds/rss20.xml"), ("Page", "/feeds/page.html")
    )
    args = ("--config", str(config), "build", "--week", "2023-W19", "--out")
    french = digest(*args, str(tmp_path / "fr"))
    assert french.returncode == 0, french.stderr
    assert french.stdout.startswith("2023-W19 : 2 sources sur 3 lues, 1 en échec ; ")
    assert "  ✗ Page : pas un flux (reçu : text/html)\n" in french.stderr
    data = json.loads((tmp_path / "fr" / "digest.json").read_text(encoding="utf-8"))
    errors = {s["name"]: s["error"] for s in data["sources"]}
    assert errors == {
        "Biodiversité": None,
        "Page": "pas un flux (reçu : text/html)",
        "Le Cerdd": None,
    }
    english = digest(*args, str(tmp_path / "en"), lang="en")
    assert english.returncode == 0, english.stderr
    assert english.stdout.startswith("2023-W19: 2 of 3 sources read, 1 failed; ")
    assert "  ✗ Page: not a feed (got text/html)\n" in english.stderr
    data = json.loads((tmp_path / "en" / "digest.json").read_text(encoding="utf-8"))
    assert [s["error"] for s in data["sources"]] == [None, "not a feed (got text/html)", None]


def test_a_literal_tag_in_a_text_title_is_shown_escaped(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    config = online_config(tmp_path, feed_server, ("Numérique", "/feeds/titles-atom.xml"))
    out = tmp_path / "out"
    run = digest("--config", str(config), "build", "--week", "2023-W19", "--out", str(out))
    assert run.returncode == 0, run.stderr
    titles = [item["title"] for item in all_items(json.loads((out / "digest.json").read_text()))]
    assert "Comment utiliser <script> sans risque : guide 2023" in titles
    for name in ("digest.html", "web.html"):
        page = (out / name).read_text(encoding="utf-8")
        assert "Comment utiliser &lt;script&gt; sans risque" in page, name
        assert "Les balises &lt;b&gt; et &lt;i&gt; en HTML" in page, name
        assert "<script" not in page.lower(), name
    text = (out / "digest.txt").read_text(encoding="utf-8")
    assert "Comment utiliser <script> sans risque" in text


def test_a_second_run_uses_the_cache_on_304(feed_server: FeedServer, tmp_path: Path) -> None:
    config = online_config(tmp_path, feed_server, ("Biodiversité", "/etag/rss20.xml"))
    args = ("--config", str(config), "build", "--week", "2023-W19", "--out")
    first = digest(*args, str(tmp_path / "a"))
    second = digest(*args, str(tmp_path / "b"))
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    headers = feed_server.headers_for("/etag/rss20.xml")[-1]
    assert headers.get("if-none-match")
    assert headers["user-agent"].startswith("digest/")
    assert headers["user-agent"].endswith("(newsletter feed reader; +http://localhost:8000)")
    a = json.loads((tmp_path / "a" / "digest.json").read_text(encoding="utf-8"))
    b = json.loads((tmp_path / "b" / "digest.json").read_text(encoding="utf-8"))
    assert [s["status"] for s in b["sources"]] == ["not_modified", "ok"]
    assert [i["title"] for i in all_items(a)] == [i["title"] for i in all_items(b)]


def test_every_source_failing_is_exit_1(feed_server: FeedServer, tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "newsletter: {title: T}\nsources:\n"
        f'  - {{name: A, url: "{feed_server.url("/status/404")}"}}\n'
        f'  - {{name: B, url: "{feed_server.url("/feeds/page.html")}"}}\n',
        encoding="utf-8",
    )
    run = digest("--config", str(config), "build", "--out", str(tmp_path / "out"))
    assert run.returncode == 1
    assert run.stderr.startswith(
        "erreur : toutes les sources sont en échec : aucune lettre n'a été construite\n"
        "  A : en échec, HTTP 404 Not Found\n"
        "  B : en échec, pas un flux (reçu : text/html)\n"
        "conseil : `digest check --fetch` essaie chaque source et affiche son état\n"
    )
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()
    offline = digest("--config", str(config), "build", "--offline", "--out", str(tmp_path / "o"))
    assert offline.returncode == 1
    assert "aucune source n'a pu être lue" in offline.stderr
    assert "\n  A : ignorée, hors ligne, jamais récupérée\n" in offline.stderr
    assert "construisez une fois sans --offline" in offline.stderr
    english = digest("--config", str(config), "build", "--offline", lang="en")
    assert english.stderr == (
        "error: no source could be read: no issue was built\n"
        "  A: skipped, offline, never fetched before\n"
        "  B: skipped, offline, never fetched before\n"
        "hint: build once without --offline to fetch the feeds (and enable any disabled"
        " source)\n"
    )


def test_a_recap_folder_read_in_part_is_named_in_the_summary(tmp_path: Path) -> None:
    (tmp_path / "recaps").mkdir()
    (tmp_path / "recaps" / "2023-05-10-bon.md").write_text(
        "---\ntitle: Bon récit\ndate: 2023-05-10\n---\nTexte.\n", "utf-8"
    )
    (tmp_path / "recaps" / "2023-05-11-casse.md").write_text(
        "---\ntitle: [pas, un, titre]\ndate: 2023-05-11\n---\nTexte.\n", "utf-8"
    )
    config = tmp_path / "feeds.yaml"
    config.write_text("newsletter: {title: T}\nsources:\n  - {name: Récits, path: recaps}\n")
    run = digest("--config", str(config), "build", "--week", "2023-W19", "--offline")
    assert run.returncode == 0, run.stderr
    assert "1 article dans la lettre" in run.stdout
    assert "⚠ Récits : lue en partie (1 récap sur 2 non lu : " in run.stderr
    assert "2023-05-11-casse.md" in run.stderr


def test_bad_usage_is_exit_2(shipped: Path) -> None:
    run = digest("--config", str(shipped), "build", "--week", "2023-W60")
    assert run.returncode == 2 and "l'année 2023 n'a pas de semaine 60" in run.stderr
    run = digest("--config", str(shipped), "build", "--week", "2023-W19", "--since", "2023-05-01")
    assert run.returncode == 2 and "--week ne peut pas s'utiliser avec" in run.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--week", "2023-19"], "error: --week: '2023-19' is not an ISO week\nhint:"),
        (["--as-of", "hier"], "error: --as-of: 'hier' is not an ISO date or datetime\n"),
        (["--since", "2023-05-01", "--until", "x"], "error: --until: 'x' is not a date\n"),
    ],
)
def test_usage_errors_are_not_called_configuration_problems(
    shipped: Path, args: list[str], expected: str
) -> None:
    run = digest("--config", str(shipped), "build", "--offline", *args, lang="en")
    assert run.returncode == 2
    assert run.stderr.startswith(expected), run.stderr
    assert "configuration" not in run.stderr
    french = digest("--config", str(shipped), "build", "--offline", *args)
    assert french.returncode == 2
    assert french.stderr.startswith("erreur : --") and "\nconseil : " in french.stderr
    assert "configuration" not in french.stderr


def test_check_fetch_prints_a_status_table(feed_server: FeedServer, tmp_path: Path) -> None:
    config = online_config(
        tmp_path, feed_server, ("Biodiversité", "/feeds/rss20.xml"), ("Disparu", "/status/410")
    )
    run = digest("--config", str(config), "check", "--fetch")
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    assert lines[1].split() == ["Source", "État", "Articles", "Détail"]
    assert lines[2].startswith("Biodiversité") and " ok " in lines[2]
    assert lines[3].startswith("Disparu") and "ÉCHEC" in lines[3] and "410" in lines[3]


def test_open_hands_the_email_to_the_browser(shipped: Path, tmp_path: Path) -> None:
    # Python's webbrowser runs $BROWSER with %s replaced by the URL: a real command here.
    opened = tmp_path / "opened.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["BROWSER"] = f"sh -c 'echo %s > {opened}'"
    out = tmp_path / "out"

    def build_and_open() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "digest", "--config", str(shipped), "build", "--offline",
             "--week", "2023-W19", "--out", str(out), "--open"],
            capture_output=True, text=True, check=False, env=env,
        )  # fmt: skip

    run = build_and_open()
    assert run.returncode == 0, run.stderr
    assert opened.read_text(encoding="utf-8").strip() == (out / "digest.html").as_uri()
    env["BROWSER"] = "/nonexistent-browser"  # and none at all: say where the file is
    env["PATH"], env["DISPLAY"], env["WAYLAND_DISPLAY"] = "/nonexistent", "", ""
    run = build_and_open()
    assert run.returncode == 0, run.stderr
    assert f"aucun navigateur trouvé : ouvrez {out / 'digest.html'}" in run.stderr


def test_rebuilding_an_approved_issue_says_the_approval_is_withdrawn(
    shipped: Path, tmp_path: Path
) -> None:
    empty = digest("--config", str(shipped), "issues")
    assert (empty.returncode, empty.stdout) == (
        0,
        "aucune lettre en mémoire : digest build en construit une\n",
    )
    assert build_shipped(shipped, tmp_path / "a").returncode == 0
    approve = ("approve", "2023-W19", "--as-of", AS_OF)
    assert digest("--config", str(shipped), *approve).returncode == 0
    again = build_shipped(shipped, tmp_path / "b")
    assert again.returncode == 0, again.stderr
    note = "note : 2023-W19 reconstruite, son approbation est retirée : relisez-la, puis"
    assert f"{note} digest approve 2023-W19" in again.stderr
    issues = digest("--config", str(shipped), "issues")
    assert issues.stdout.startswith("2023-W19  construite ")
    third = build_shipped(shipped, tmp_path / "c")  # nothing approved: nothing to say
    assert "approbation" not in third.stderr
