"""One issue, cut per reader (issue 14): a real feed over the loopback HTTP server, built and
sent by `digest` processes to a real aiosmtpd server, read back as received.

Every reader gets the edito, "À la une" and the agenda, plus the sections they chose; a
reader whose sections are too thin that week is skipped; a kill -9 mid-send and a resume
keep each reader's cut and Message-ID; a theme change is followed at the next issue.
"""

from __future__ import annotations

import json
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import httpx

from digest.config import load_config
from digest.delivery.smtp import parse_smtp_url
from digest.render.cuts import COMMON, WHOLE, cut_issue, cut_key, issue_from_data
from digest.store import MIGRATIONS, Store
from digest.web import create_app
from tests.deliver_support import bodies, parse
from tests.http_server import FeedServer
from tests.smtp_server import SmtpServer
from tests.store_support import store_at_version
from tests.test_deliver_cli import by_recipient, digest, stopped_mid_send
from tests.web_support import KEYS, bound_socket, serve

W19, W20 = "2023-W19", "2023-W20"
AFTER = {W19: "2023-05-15T08:00:00+02:00", W20: "2023-05-22T08:00:00+02:00"}
MONDAY = {W19: datetime(2023, 5, 8, 10, tzinfo=UTC), W20: datetime(2023, 5, 15, 10, tzinfo=UTC)}
THEMES = {
    "climat": "Climat",
    "energie": "Énergie",
    "participation": "Participation citoyenne",
    "mobilite_douce": "Mobilité douce",
}
# Items per theme each week: energie is thin in W19 (1 < schedule.min_items, 3).
COUNTS = {
    W19: {"climat": 3, "energie": 1, "participation": 3, "mobilite_douce": 3},
    W20: {"climat": 3, "energie": 2, "participation": 1, "mobilite_douce": 2},
}
PINNED = "https://partenaire.example.org/une"


def _entry(title: str, url: str, category: str, when: datetime) -> str:
    return (
        f"<item><title>{escape(title)}</title><link>{url}</link><guid>{url}</guid>"
        f"<category>{category}</category><pubDate>{format_datetime(when)}</pubDate>"
        f"<description>{escape(title)}, en quelques mots.</description></item>"
    )


def feed() -> bytes:
    """Both weeks' items, each in one theme by its category, and the pinned lead story."""
    entries = [_entry("La une de la semaine", PINNED, "participation", MONDAY[W19])]
    for week, counts in COUNTS.items():
        for theme, count in counts.items():
            for n in range(1, count + 1):
                title = f"{THEMES[theme]} {week} article {n}"
                url = f"https://partenaire.example.org/{week}/{theme}/{n}"
                entries.append(_entry(title, url, theme, MONDAY[week] + timedelta(hours=n)))
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Partenaire</title><link>https://partenaire.example.org/</link>"
        "<description>Actualités</description>" + "".join(entries) + "</channel></rss>"
    ).encode()


def site(tmp_path: Path, feed_server: FeedServer) -> Path:
    """feeds.yaml with four themes (categories), the feed, recaps with an agenda event, and
    the W19 overrides: an edito and the pinned lead story."""
    url = feed_server.add("cuts.xml", feed())
    themes = "".join(
        f'  - id: {i}\n    title: "{title}"\n    categories: ["{i}"]\n'
        for i, title in THEMES.items()
    )
    (tmp_path / "recaps").mkdir()
    (tmp_path / "recaps" / "2023-05-09-forum.md").write_text(
        "---\ntitle: Forum des transitions\ndate: 2023-05-09\nevent_date: 2023-05-30\n"
        "place: Arras\n---\nUn forum ouvert à tous.\n",
        encoding="utf-8",
    )
    (tmp_path / "issues").mkdir()
    (tmp_path / "issues" / f"{W19}.md").write_text(
        f"---\npin:\n  - {PINNED}\n---\nÉdito de la semaine : bonne lecture.\n", encoding="utf-8"
    )
    path = tmp_path / "feeds.yaml"
    path.write_text(
        'newsletter:\n  title: "Lettre du Cerdd"\n  base_url: "https://lettre.example.org"\n'
        '  sender: "Lettre du Cerdd <lettre@example.org>"\n'
        f'sources:\n  - name: "Partenaire"\n    url: "{url}"\n'
        '  - name: "Récits"\n    path: recaps\n'
        f"themes:\n{themes}issue:\n  overrides: issues\nstore: digest.db\n"
        "delivery:\n  batch: 50\n",
        encoding="utf-8",
    )
    return path


def build(config: Path, week: str) -> None:
    out = str(config.parent / f"out-{week}")
    done = digest(config, "build", "--week", week, "--as-of", AFTER[week], "--out", out)
    assert done.returncode == 0, done.stderr


def add(config: Path, address: str, themes: str = "") -> None:
    extra = ("--themes", themes) if themes else ()
    done = digest(config, "subscribers", "add", address, *extra)
    assert done.returncode == 0, done.stderr


def send(config: Path, server: SmtpServer, week: str) -> subprocess.CompletedProcess[str]:
    done = digest(config, "send", "--issue", week, smtp=server.url)
    assert done.returncode == 0, done.stderr
    return done


def received(server: SmtpServer, address: str) -> list[EmailMessage]:
    return [parse(r.data) for r in server.messages if r.rcpt_tos == (address,)]


def titles(message: EmailMessage, week: str) -> dict[str, set[str]]:
    """The item titles of `week` found in each part, by theme id ('une', 'agenda')."""
    text, html = bodies(message)
    found: dict[str, set[str]] = {"text": set(), "html": set()}
    for part, body in (("text", text), ("html", html)):
        flat = " ".join(body.split())
        for theme, title in THEMES.items():
            if f"{title} {week} article" in flat:
                found[part].add(theme)
        for common, words in (("une", "La une de la semaine"), ("agenda", "Forum des transitions")):
            if words in flat:
                found[part].add(common)
    return found


def test_each_reader_gets_their_sections_plus_the_common_ones(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    config = site(tmp_path, feed_server)
    build(config, W19)
    add(config, "lea@example.org", "climat,participation")
    add(config, "marc@example.org")  # no choice: everything
    add(config, "nadia@example.org", "energie")  # 1 item this week: too thin
    add(config, "olga@example.org", "climat")
    # Themes since removed from feeds.yaml: ignored (none left: everything).
    with Store(tmp_path / "digest.db") as store, store.transaction() as db:
        db.execute("UPDATE subscribers SET themes = 'ancien' WHERE email LIKE 'marc@%'")
        db.execute("UPDATE subscribers SET themes = 'ancien climat' WHERE email LIKE 'olga@%'")
    # The dry run counts as the send will: the reader whose cut is too thin is skipped.
    dry = digest(config, "send", "--issue", W19, "--dry-run", smtp=None, secret=False)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[0] == f"{W19} : enverrait à 3 abonnés"
    assert "nadia@example.org" not in dry.stdout
    assert dry.stdout.splitlines()[-1] == (
        "et sauterait 1 lecteur : rien pour leurs thèmes cette semaine"
    )
    done = send(config, smtp_server, W19)
    assert "3 envoyés, 0 différé, 0 en échec" in done.stdout
    assert "1 lecteur sauté pour ce numéro : rien pour leurs thèmes cette semaine" in done.stdout

    (lea,) = received(smtp_server, "lea@example.org")
    common = {"une", "agenda"}
    both = common | {"climat", "participation"}
    assert titles(lea, W19) == {"text": both, "html": both}
    text, html = bodies(lea)
    assert "Édito de la semaine" in text and "Édito de la semaine" in html
    # The subject counts the cut's items: the lead story and 7 more (3 + 3 + the agenda).
    assert str(lea["Subject"]).startswith("La une de la semaine et 7 autres articles")
    assert "/archives/2023-W19/?cut=climat,participation" in text
    (marc,) = received(smtp_server, "marc@example.org")
    everything = common | set(THEMES)
    assert titles(marc, W19) == {"text": everything, "html": everything}
    assert str(marc["Subject"]).startswith("La une de la semaine et 11 autres articles")
    assert "?cut=" not in bodies(marc)[0]
    (olga,) = received(smtp_server, "olga@example.org")
    assert titles(olga, W19)["text"] == common | {"climat"}
    assert received(smtp_server, "nadia@example.org") == []

    report = digest(config, "report", W19)
    assert report.returncode == 0, report.stderr
    assert "1 lecteur sauté" in report.stdout
    assert "tout le numéro : 1 lecteur, 1 envoyé, 0 sauté" in report.stdout
    assert "parties communes, climat, participation : 1 lecteur, 1 envoyé" in report.stdout
    assert "parties communes, energie : 1 lecteur, 0 envoyé, 1 sauté" in report.stdout
    issues = digest(config, "issues")
    assert "climat 3, energie 1, participation 2, mobilite_douce 1" in issues.stdout
    with Store(tmp_path / "digest.db") as store:
        (skipped,) = store.db.execute(
            "SELECT o.status, o.last_error FROM outbox o"
            " JOIN subscribers s ON s.id = o.subscriber_id WHERE s.email = 'nadia@example.org'"
        ).fetchall()
        nadia = store.subscriber_by_email("nadia@example.org")
        issue = store.issue(W19)
    assert skipped == ("skipped", "rien pour vos thèmes cette semaine")
    assert nadia is not None and nadia.status == "confirmed", "a skipped reader is not blamed"
    assert issue is not None and issue.status == "sent"
    whole, cut, unknown = archive_pages(config, smtp_server, "climat,participation", "autre")
    assert "Mobilité douce 2023-W19 article 1" in whole, "the archive page is the whole issue"
    assert "Climat 2023-W19 article 1" in cut and "Mobilité douce 2023-W19" not in cut
    assert "La une de la semaine" in cut and "Forum des transitions" in cut
    assert unknown == whole


def archive_pages(config: Path, smtp: SmtpServer, *cuts: str) -> list[str]:
    """The issue's archive page, then as each `?cut=` shows it, from `digest serve`'s app."""
    sock = bound_socket()
    app = create_app(load_config(config), keys=KEYS, smtp=parse_smtp_url(smtp.url))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}/archives/{W19}/"
    with serve(app, sock), httpx.Client(timeout=30) as client:
        pages = [client.get(base), *(client.get(base, params={"cut": c}) for c in cuts)]
    assert all(p.status_code == 200 for p in pages)
    return [" ".join(p.text.split()) for p in pages]


def test_a_theme_change_is_followed_at_the_next_issue(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    config = site(tmp_path, feed_server)
    add(config, "lea@example.org", "climat,participation")
    build(config, W19)
    send(config, smtp_server, W19)
    add(config, "lea@example.org", "energie,mobilite_douce")  # staff, or the preference page
    build(config, W20)
    send(config, smtp_server, W20)
    first, second = received(smtp_server, "lea@example.org")
    assert titles(first, W19)["html"] == {"une", "agenda", "climat", "participation"}
    # (The agenda's event went out in W19: an item is sent once.)
    assert titles(second, W20)["html"] == {"energie", "mobilite_douce"}
    assert titles(second, W20)["text"] == {"energie", "mobilite_douce"}


def test_a_cut_that_cannot_render_freezes_nothing(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    """Cuts render when sending starts, with the templates of that moment: a template broken
    since the build stops the send before anything is frozen or counted as sent."""
    config = site(tmp_path, feed_server)
    with config.open("a", encoding="utf-8") as yaml:
        yaml.write('templates: "templates"\n')
    (tmp_path / "templates").mkdir()
    add(config, "lea@example.org", "climat,participation")
    build(config, W19)
    (tmp_path / "templates" / "email.mjml").write_text("<mjml><mj-body><mj-text>", "utf-8")
    broken = digest(config, "send", "--issue", W19, smtp=smtp_server.url)
    assert broken.returncode != 0 and "Traceback" not in broken.stderr
    assert "email.mjml" in broken.stderr, broken.stderr
    with Store(tmp_path / "digest.db") as store:
        counts = [store.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                  for t in ("outbox", "issue_cuts", "sent_items")]  # fmt: skip
        issue = store.issue(W19)
    assert counts == [0, 0, 0] and issue is not None and issue.status == "built"
    (tmp_path / "templates" / "email.mjml").unlink()
    send(config, smtp_server, W19)
    (lea,) = received(smtp_server, "lea@example.org")
    assert titles(lea, W19)["text"] == {"une", "agenda", "climat", "participation"}


GROUPS = {"": "11 autres", "climat participation": "7 autres", "mobilite_douce": "4 autres"}


def test_killed_mid_send_then_resumed_keeps_every_cut_and_message_id(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    """3,000 readers in three cuts; kill -9 mid-list; everyone then changes themes; the
    resume sends each reader the cut frozen for them, a message in flight again with the
    same Message-ID."""
    config = site(tmp_path, feed_server)
    build(config, W19)
    groups = list(GROUPS)
    now = datetime(2023, 5, 15, tzinfo=UTC).isoformat()
    with Store(tmp_path / "digest.db") as store, store.transaction() as db:
        db.executemany(
            "INSERT INTO subscribers (email, status, themes, created_at, updated_at)"
            " VALUES (?, 'confirmed', ?, ?, ?)",
            [(f"r{i:04d}@example.org", groups[i % 3], now, now) for i in range(3000)],
        )
    stopped_mid_send(config, W19, smtp_server, signal.SIGKILL)
    assert 800 <= len(smtp_server.messages) < 3000, "the kill must land mid-list"
    with Store(tmp_path / "digest.db") as store, store.transaction() as db:
        db.execute("UPDATE subscribers SET themes = 'energie'")  # too late for this issue
    send(config, smtp_server, W19)
    ids = by_recipient(smtp_server)
    assert len(ids) == 3000, "nobody is skipped"
    assert all(len(set(found)) == 1 for found in ids.values()), "same Message-ID when resent"
    subjects = {r.rcpt_tos[0]: str(parse(r.data)["Subject"]) for r in smtp_server.messages}
    for i in range(3000):
        assert GROUPS[groups[i % 3]] in subjects[f"r{i:04d}@example.org"], i


def test_cut_keys() -> None:
    """Unknown ids are ignored; none left, or every theme, means the whole issue."""
    data = json.dumps(
        {
            "issue": W19,
            "period": {"start": "2023-05-08T00:00:00+02:00", "end": "2023-05-15T00:00:00+02:00"},
            "sections": [
                {"theme": t, "title": t, "items": [{"key": t, "title": t}]}
                for t in ("climat", "energie", "autres")
            ],
        }
    )
    issue = issue_from_data(data)
    known = list(THEMES)
    assert cut_key("", issue, known) == WHOLE
    assert cut_key("ancien", issue, known) == WHOLE
    assert cut_key(" ".join(known), issue, known) == WHOLE
    assert cut_key("ancien climat", issue, known) == "climat"
    assert cut_key("climat energie", issue, known) == "climat energie"
    assert cut_key("participation", issue, known) == COMMON


def test_the_cut_of_everything_renders_what_build_stored(tmp_path: Path) -> None:
    """digest.json keeps all a render needs: the whole issue read back renders the same
    email, text and web page (so each cut is the reviewed issue with sections left out)."""
    from digest.render import render_cuts, render_issue
    from digest.render.data import issue_data
    from tests.golden_plugin import golden_issue, make_config

    config = make_config(tmp_path)
    issue = golden_issue()
    rendered = render_issue(issue, config)
    data = json.dumps(issue_data(issue, "fr", rendered.subject, rendered.preheader))
    back = issue_from_data(data)
    again = render_issue(back, config)
    assert (again.html, again.text, again.web) == (rendered.html, rendered.text, rendered.web)
    # Cutting the views (what delivery does, items viewed once) = rendering the cut issue.
    (cut,) = render_cuts(back, config, [("climat", "energie")])
    assert cut == render_issue(cut_issue(back, "climat energie"), config)
    assert cut.subject != rendered.subject and len(cut.text) < len(rendered.text)


def test_the_store_migrates_an_outbox_with_rows(tmp_path: Path) -> None:
    """Migration 8 copies the outbox into the table that accepts 'skipped': its rows stay,
    each for the whole issue."""
    path = tmp_path / "digest.db"
    with store_at_version(path, 7) as db:
        db.execute(
            "INSERT INTO issues (id, period_start, period_end, built_at, data, html, text, web)"
            " VALUES ('2023-W19', '', '', '', '{}', '', '', '')"
        )
        db.execute(
            "INSERT INTO subscribers (id, email, status, created_at, updated_at)"
            " VALUES (7, 'a@example.org', 'confirmed', '', '')"
        )
        db.execute(
            "INSERT INTO outbox (issue_id, subscriber_id, status, message_id, updated_at,"
            " bounced) VALUES ('2023-W19', 7, 'sent', '<m@x>', 'now', 1)"
        )
    with Store(path) as store:
        rows = store.db.execute(
            "SELECT subscriber_id, status, message_id, bounced, cut FROM outbox"
        ).fetchall()
        assert store.schema_version == len(MIGRATIONS)
    assert rows == [(7, "sent", "<m@x>", 1, "")]
