"""Golden files for the rendered issue, and the fixed issues render tests and bench share.

`pytest --regen-golden` rewrites tests/golden/ from the current output instead of
comparing with it; review the diff before committing it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.config import Config, parse_config
from digest.models import Issue, Item, Section, Selection, SourceResult
from digest.period import week_period

GOLDEN = Path(__file__).parent / "golden"
PARIS = ZoneInfo("Europe/Paris")
BUILT_AT = datetime(2023, 5, 15, 7, 0, tzinfo=PARIS)

CONFIG_YAML = """\
newsletter:
  title: "La lettre du Cerdd"
  language: {language}
  base_url: "https://lettre.example.org"
  sender: "Lettre du Cerdd <lettre@example.org>"
  subscribe_url: "https://lettre.example.org/inscription"
  logo: "https://lettre.example.org/static/logo.png"
  utm: {utm}
  address: "Le Cerdd, 1 rue de l'Exemple, 62000 Arras"
  links:
    - label: "LinkedIn"
      url: "https://www.linkedin.com/company/exemple/"
    - label: "Nous écrire"
      url: "mailto:lettre@example.org"
sources:
  - name: "Partenaire"
    url: "https://partenaire.example.org/feed.xml"
{extra}"""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/ from the current render output",
    )


@pytest.fixture
def regen_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-golden"))


def make_config(
    folder: Path, *, language: str = "fr", utm: bool = False, templates: Path | None = None
) -> Config:
    """A config as feeds.yaml in `folder` would give (nothing is read from disk)."""
    extra = f'templates: "{templates}"\n' if templates else ""
    text = CONFIG_YAML.format(language=language, utm=str(utm).lower(), extra=extra)
    return parse_config(text, folder / "feeds.yaml")


def _at(day: int, hour: int = 9) -> datetime:
    return datetime(2023, 5, day, hour, 30, tzinfo=PARIS)


FEATURED = (
    Item(
        key="k-journee",
        title="Retour sur la deuxième journée régionale des Territoires Participatifs",
        url="https://www.cerdd.org/actualites/journee-territoires-participatifs",
        published=_at(11),
        source="Récits",
        summary_text=(
            "35 participant-es se sont réuni-es le 13 avril 2023 à Arras pour partager "
            "des expériences inspirantes de participation citoyenne : retour sur les "
            "grands messages de cette journée !"
        ),
        image="https://www.cerdd.org/media/journee.jpg",
        origin="file",
    ),
)

SECTIONS = (
    (
        "participation",
        "Participation citoyenne",
        (
            Item(
                key="k-manuel",
                title="Le petit manuel de survie pour les élu-es en transitions",
                url="https://www.la27eregion.fr/manuel?format=pdf&lang=fr",
                published=_at(9),
                source="La 27e Région",
                summary_text="Un guide « pratique » pour les élu-es ; à lire absolument !",
                summary_html=(
                    "<p>Un guide « pratique » pour les élu-es ; "
                    '<a href="https://www.la27eregion.fr/manuel.pdf">à lire absolument</a> !</p>'
                ),
            ),
            Item(
                key="k-hostile",
                title="Titre <script>alert(1)</script> et %%unsubscribe_url%% piégé",
                url="https://partenaire.example.org/a%%view_url%%b",
                published=_at(10),
                source="Partenaire",
                summary_text="Un contenu qui contient %%view_url%% ne doit rien remplacer.",
            ),
        ),
    ),
    (
        "climat",
        "Climat et énergie",
        (
            Item(
                key="k-plan",
                title="Plan climat : la Métropole lance sa concertation",
                url="https://climat.example.org/plan-climat",
                published=_at(12, 14),
                source="Climat HDF",
                summary_text=(
                    "La concertation sur le plan climat-air-énergie territorial s'ouvre "
                    "jusqu'au 30 juin. Habitants, associations et entreprises sont invités "
                    "à donner leur avis sur les 40 actions proposées pour réduire les "
                    "émissions de gaz à effet de serre de 55 % d'ici à 2030 et adapter le "
                    "territoire aux vagues de chaleur, aux inondations et à la sécheresse, "
                    "avec des ateliers dans chaque commune et une plateforme en ligne."
                ),
                image="https://climat.example.org/img/plan.png",
                image_alt="Carte des 40 actions du plan climat",
            ),
            Item(
                key="k-recit",
                title="Sobriété foncière : un récit d'équipe sans lien",
                url=None,
                published=_at(8, 8),
                source="Récits",
                summary_text="Notes de l'équipe, à retrouver sur demande.",
                origin="file",
            ),
        ),
    ),
)

AGENDA = (
    Item(
        key="k-atelier",
        title="Atelier : la coopération au service des transitions",
        url="https://www.cerdd.org/agenda/atelier-cooperation",
        published=_at(10),
        source="Récits",
        event_date=datetime(2023, 6, 1, 14, 0, tzinfo=PARIS),
        place="Arras",
        origin="file",
    ),
)

EDITO_HTML = (
    "<p>Bonne lecture ! Cette semaine, <strong>la participation</strong> est à "
    '<a href="https://www.cerdd.org/dossier?id=3:4">l\'honneur</a> : « coopérer » '
    "plutôt que concurrencer.</p>"
)
EDITO_TEXT = (
    "Bonne lecture ! Cette semaine, la participation est à l'honneur : « coopérer » "
    "plutôt que concurrencer."
)


def golden_issue() -> Issue:
    """The fixed issue of the golden files: week 2023-W19, every kind of block."""
    sections = tuple(
        Section(theme=theme, title=title, items=items) for theme, title, items in SECTIONS
    )
    return Issue(
        id="2023-W19",
        period=week_period("2023-W19", PARIS),
        sections=sections,
        sources=(SourceResult(name="Partenaire", status="ok", items=()),),
        built_at=BUILT_AT,
        stats=Selection(items=()),
        featured=Section(theme="featured", title="À la une", items=FEATURED),
        agenda=Section(theme="agenda", title="Agenda", items=AGENDA),
        edito_html=EDITO_HTML,
        edito_text=EDITO_TEXT,
    )


def _filler(number: int, themes: int) -> Item:
    words = " ".join(f"mot{n}" for n in range(70))
    return Item(
        key=f"k{number}",
        title=f"Actualité numéro {number} : un titre de longueur ordinaire pour la lettre",
        url=f"https://partenaire{number % 7}.example.org/actualites/{number}",
        published=_at(8 + number % 7) + timedelta(minutes=number),
        source=f"Partenaire {number % themes}",
        summary_text=f"Résumé de l'actualité {number} ! {words}",
        image=f"https://partenaire.example.org/img/{number}.jpg" if number % 3 == 0 else None,
    )


def sized_issue(count: int, themes: int = 6) -> Issue:
    """An issue of `count` ordinary items spread over `themes` sections (bench, limits)."""
    items = [_filler(n, themes) for n in range(count)]
    sections = tuple(
        Section(theme=f"theme{t}", title=f"Thème {t}", items=tuple(items[t::themes]))
        for t in range(themes)
    )
    return Issue(
        id="2023-W19",
        period=week_period("2023-W19", PARIS),
        sections=sections,
        sources=(),
        built_at=BUILT_AT,
        stats=Selection(items=()),
        edito_html=EDITO_HTML,
        edito_text=EDITO_TEXT,
    )
