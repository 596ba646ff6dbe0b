"""`digest run` as cron runs it: real processes, the shipped content, a real SMTP server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

from digest.store import Store
from tests.deliver_support import store_issue
from tests.smtp_server import SmtpServer

ROOT = Path(__file__).parent.parent
DUE = "2023-05-15T09:30:00+02:00"  # Monday after 2023-W19, past the 9:00 slot
READERS = ["lea@example.org", "marc@example.org", "nadia@example.org"]


def setup_site(tmp_path: Path, schedule: str = "") -> Path:
    shutil.copy(ROOT / "feeds.yaml", tmp_path / "feeds.yaml")
    shutil.copytree(ROOT / "content", tmp_path / "content")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    if schedule:
        with (tmp_path / "feeds.yaml").open("a", encoding="utf-8") as config:
            config.write(f"\nschedule:\n{schedule}")
    return tmp_path / "feeds.yaml"


def digest(config: Path, smtp: SmtpServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["DIGEST_SMTP_URL"] = smtp.url
    env["DIGEST_SECRET"] = "test-secret-0123456789abcdef0123456789"
    return subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def run_at(config: Path, smtp: SmtpServer, when: str = DUE, *extra: str) -> str:
    done = digest(config, smtp, "run", "--offline", "--as-of", when, *extra)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def subscribe(config: Path, smtp: SmtpServer) -> None:
    for address in READERS:
        assert digest(config, smtp, "subscribers", "add", address).returncode == 0


def test_the_weekly_cycle_with_approval(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = setup_site(tmp_path)
    subscribe(config, smtp_server)
    first = run_at(config, smtp_server)
    assert "2023-W19 : construction de la lettre de la semaine écoulée" in first
    assert "en attente d'approbation : digest approve 2023-W19" in first
    assert "en attente d'approbation" in run_at(config, smtp_server)
    assert smtp_server.messages == []
    approved = digest(config, smtp_server, "approve", "2023-W19", "--as-of", DUE)
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout == (
        "2023-W19 : approuvée ; le prochain `digest run` l'envoie"
        " (date limite : 2023-05-17 09:00)\n"
    )
    sent = run_at(config, smtp_server)
    assert "2023-W19 : envoi\n" in sent and "2023-W19 : 3 envoyés, 0 différé" in sent
    received = smtp_server.wait_for(3)
    assert sorted(r for m in received for r in m.rcpt_tos) == READERS
    assert "déjà envoyée, rien à faire" in run_at(config, smtp_server)
    assert len(smtp_server.messages) == 3
    listed = digest(config, smtp_server, "issues")
    assert listed.stdout == "2023-W19  envoyée           20 articles  faite le 2023-05-15 09:30\n"
    with Store(tmp_path / "digest.db") as store:
        stored = store.issue("2023-W19")
    assert stored is not None and stored.status == "sent"


def test_automatic_approval_sends_at_once(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = setup_site(tmp_path, "  approval: auto\n")
    subscribe(config, smtp_server)
    before = datetime.now(UTC)
    output = run_at(config, smtp_server)
    assert "construction" in output and "3 envoyés" in output
    received = smtp_server.wait_for(3)
    subjects = {m.message["Subject"] for m in received}
    assert len(subjects) == 1 and "autres articles — " in subjects.pop()  # one issue, its subject
    # --as-of decides which issue is due; the mail is dated when it really went out.
    dates = {parsedate_to_datetime(m.message["Date"]) for m in received}
    assert all(before - timedelta(seconds=1) <= d <= datetime.now(UTC) for d in dates), dates


def test_a_run_whose_every_recipient_was_refused_failed(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """DESIGN §3: exit 1 when SMTP refused everything, for `digest run` as for `digest send`."""
    config = setup_site(tmp_path, "  approval: auto\n")
    subscribe(config, smtp_server)
    for reader in READERS:
        smtp_server.script.rcpt[reader] = "550 5.1.1 No such user"
    done = digest(config, smtp_server, "run", "--offline", "--as-of", DUE)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2023-W19 : 0 envoyé, 0 différé, 3 en échec" in done.stdout
    assert "a refusé tous les messages de 2023-W19" in done.stderr
    assert "Traceback" not in done.stderr


def test_deferred_addresses_are_left_to_the_next_run_and_a_rebuild_says_it_is_going_out(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = setup_site(tmp_path, "  approval: auto\ndelivery:\n  retry_wait: 0\n")
    subscribe(config, smtp_server)
    smtp_server.script.rcpt[READERS[1]] = "451 4.3.0 Try again later"
    done = digest(config, smtp_server, "run", "--offline", "--as-of", DUE)
    assert done.returncode == 0, done.stderr
    assert "2023-W19 : 2 envoyés, 1 différé" in done.stdout
    assert done.stderr == "les adresses différées seront réessayées au prochain `digest run`\n"
    rebuilt = digest(config, smtp_server, "build", "--week", "2023-W19", "--offline")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stderr.endswith(
        "note : 2023-W19 est en cours d'envoi (1 adresse restante) ; le stockage garde la"
        " version qui part\n"
    )
    assert "déjà été envoyée" not in rebuilt.stderr


def test_a_thin_issue_is_not_sent_and_says_so(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = setup_site(tmp_path, "  approval: auto\n  min_items: 50\n")
    subscribe(config, smtp_server)
    done = digest(config, smtp_server, "run", "--offline", "--as-of", DUE)
    assert done.returncode == 0
    assert "NON ENVOYÉE : seulement 20 articles, moins de 50" in done.stderr
    assert "écartée plus tôt, rien à faire" in run_at(config, smtp_server)
    assert smtp_server.messages == []
    forced = run_at(config, smtp_server, DUE, "--force")
    assert "3 envoyés" in forced


def test_a_late_machine_does_not_send_an_old_issue(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = setup_site(tmp_path, "  approval: auto\n")
    subscribe(config, smtp_server)
    # Thursday of the next week: the slot was Monday 9:00, the deadline 48 hours later.
    late = digest(config, smtp_server, "run", "--offline", "--as-of", "2023-05-18T10:00")
    assert late.returncode == 0
    assert "NON ENVOYÉE : sa date limite (2023-05-17 09:00) est passée" in late.stderr
    assert smtp_server.messages == []


THIN_WEEK = "2023-05-29T09:30"  # Monday after 2023-W21, which the shipped content barely fills


def recap(config: Path, day: str, title: str) -> None:
    text = f"---\ntitle: {title}\ndate: {day}\ntheme: climat\n---\n{title}, en détail.\n"
    (config.parent / "content" / "recaps" / f"{day}-{title.lower()}.md").write_text(text, "utf-8")


def test_a_thin_issue_is_said_thin_at_once_and_cannot_be_approved(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = setup_site(tmp_path)
    subscribe(config, smtp_server)
    first = digest(config, smtp_server, "run", "--offline", "--as-of", THIN_WEEK)
    assert first.returncode == 0, first.stderr
    assert "2023-W21 : NON ENVOYÉE : seulement 1 article, moins de 3\n" in first.stderr
    assert "attente d'approbation" not in first.stdout + first.stderr
    refused = digest(config, smtp_server, "approve", "2023-W21", "--as-of", THIN_WEEK)
    assert refused.returncode == 2
    assert refused.stderr.startswith(
        "erreur : 2023-W21 n'a que 1 article, moins que schedule.min_items (3) : `digest run`"
        " ne l'enverra pas, elle n'est donc pas approuvée\n"
    )
    assert "`digest send --issue 2023-W21`" in refused.stderr
    # The team adds two recaps and rebuilds: the skipped issue is judged again.
    recap(config, "2023-05-23", "Atelier")
    recap(config, "2023-05-24", "Visite")
    rebuilt = digest(config, smtp_server, "build", "--week", "2023-W21", "--offline",
                     "--as-of", "2023-05-29T09:40")  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "en attente d'approbation" in run_at(config, smtp_server, "2023-05-29T09:50")
    approved = digest(config, smtp_server, "approve", "2023-W21", "--as-of", "2023-05-29T10:00")
    assert approved.returncode == 0, approved.stderr
    assert "3 envoyés" in run_at(config, smtp_server, "2023-05-29T10:10")


def test_a_late_issue_is_not_approved_and_staff_are_told_how_to_send_it(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = setup_site(tmp_path)
    built = digest(config, smtp_server, "build", "--week", "2023-W18", "--offline")
    assert built.returncode == 0, built.stderr
    refused = digest(config, smtp_server, "approve", "2023-W18", "--as-of", DUE)
    assert refused.returncode == 2
    assert refused.stderr == (
        "erreur : 2023-W18 a dépassé sa date limite (2023-05-10 09:00) : `digest run` ne"
        " l'enverra plus, elle n'est donc pas approuvée\n"
        "conseil : pour l'envoyer quand même : `digest send --issue 2023-W18`"
        " (essayez d'abord `--dry-run`)\n"
    )
    with Store(tmp_path / "digest.db") as store:
        stored = store.issue("2023-W18")
    assert stored is not None and stored.status == "built"


def test_approving_a_mid_week_preview_warns_that_it_goes_out_as_it_is(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = setup_site(tmp_path)
    tuesday = "2023-05-16T10:00"
    built = digest(config, smtp_server, "build", "--week", "2023-W20", "--offline",
                   "--as-of", tuesday)  # fmt: skip
    assert built.returncode == 0, built.stderr
    approved = digest(config, smtp_server, "approve", "2023-W20", "--as-of", tuesday)
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout == (
        "2023-W20 : approuvée ; `digest run` l'enverra à partir du 2023-05-22 09:00"
        " (date limite : 2023-05-24 09:00)\n"
    )
    assert approved.stderr == (
        "attention : 2023-W20 est un aperçu, construite le 2023-05-16 10:00, avant la fin de sa"
        " semaine (2023-05-22 00:00). Approuvée, elle part telle quelle : `digest run` ne la"
        " reconstruit pas, et ce qui paraîtra d'ici là n'y sera pas. Pour la semaine complète :"
        " `digest build --week 2023-W20` après le 2023-05-22 00:00, puis"
        " `digest approve 2023-W20`\n"
    )
    # Rebuilt once the week is over: a complete issue, approved without a warning.
    monday = "2023-05-22T08:00"
    rebuilt = digest(config, smtp_server, "build", "--week", "2023-W20", "--offline",
                     "--as-of", monday)  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stderr
    again = digest(config, smtp_server, "approve", "2023-W20", "--as-of", monday)
    assert again.returncode == 0 and again.stderr == ""


def test_approving_an_unknown_or_sent_issue_is_refused(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = setup_site(tmp_path)
    unknown = digest(config, smtp_server, "approve", "2023-W30")
    assert unknown.returncode == 2
    assert unknown.stderr == (
        "erreur : aucune lettre 2023-W30 dans le stockage\n"
        "conseil : voir `digest issues`, ou construisez-la : `digest build --week 2023-W30`\n"
    )
    garbled = digest(config, smtp_server, "approve", "foo")
    assert garbled.returncode == 2
    assert "build --week foo" not in garbled.stderr
    assert "nommées par leur semaine ISO, comme 2023-W19" in garbled.stderr


def test_approving_a_sent_or_sending_issue_is_nothing_to_do(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = setup_site(tmp_path)
    subscribe(config, smtp_server)
    with Store(tmp_path / "digest.db") as store:
        store_issue(store, "sent", issue_id="2023-W18")
        store_issue(store, "approved", issue_id="2023-W19")
        store.freeze_audience("2023-W19", "example.org", datetime.now(UTC))
    sent = digest(config, smtp_server, "approve", "2023-W18")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == "2023-W18 : déjà envoyée, rien à faire\n"
    sending = digest(config, smtp_server, "approve", "2023-W19")
    assert sending.returncode == 0, sending.stderr
    assert sending.stdout == (
        "2023-W19 : déjà en cours d'envoi, 3 adresses restantes : rien à approuver\n"
    )
