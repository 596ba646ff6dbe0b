"""Themes benchmark: `arrange` on 200, 1,000 and 5,000 items with the shipped feeds.yaml themes.

    .venv/bin/python bench/bench_themes.py [--repeat N]

Items have realistic French titles and ~50-word summaries (the length `summarize` keeps),
some categories, a few recaps and events. Prints the median and spread of `arrange` per size,
and the time per item. The stemmer's and the word reader's caches are cleared before every
run, so each run reads its items as a build does when nothing was read ahead (`digest build`
reads each source's words as it arrives, while other feeds are parsed: see bench_build).
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.config import load_config  # noqa: E402
from digest.identity import item_key  # noqa: E402
from digest.models import Item  # noqa: E402
from digest.overrides import Overrides  # noqa: E402
from digest.period import week_period  # noqa: E402
from digest.themes import arrange, stem, words  # noqa: E402

PARIS = ZoneInfo("Europe/Paris")
TITLES = [
    "Le plan climat de la communauté d'agglomération adopté",
    "Budget participatif : les habitant·es ont voté",
    "Réemploi : une nouvelle ressourcerie ouvre à Amiens",
    "Cantines bio et locales dans la Somme",
    "Rénovation énergétique : un guichet unique à Saint-Quentin",
    "Plantation de haies dans l'Avesnois",
    "Covoiturage : un service pour les zones rurales de l'Oise",
    "Assemblée générale de l'association le 12 juin",
    "Tiers-lieux et coopération entre collectivités",
    "Canicule : la climatisation des bureaux en question",
]
SUMMARY = (
    "Les acteurs du territoire se sont réunis pour échanger sur la transition écologique, "
    "l'alimentation durable, la participation des habitant-es et les coopérations entre "
    "collectivités, associations et entreprises. Retour sur les projets présentés, les "
    "difficultés rencontrées et les prochaines étapes, avec des témoignages d'élu·es et "
    "d'agent·es engagés dans la démarche depuis plusieurs années."
)
CATEGORIES = [(), ("Participation",), ("Zones humides",), ("Actualités",), ("Réemploi",)]


def make_items(count: int, seed: int = 19) -> list[Item]:
    rng = random.Random(seed)
    start = datetime(2023, 5, 8, 8, 0, tzinfo=PARIS)
    items = []
    for n in range(count):
        title = f"{rng.choice(TITLES)} ({n})"
        slug = hashlib.sha1(title.encode()).hexdigest()[:12]
        url = f"https://partenaire{n % 40}.example.org/actu/{slug}"
        event = start + timedelta(days=rng.randint(8, 40)) if n % 25 == 0 else None
        items.append(
            Item(
                key=item_key(url, None, "", title, ""),
                title=title,
                url=url,
                published=start + timedelta(minutes=7 * n % 9000),
                source=rng.choice(["Réseau Transition Hauts-de-France", "Le Cerdd", "Autre"]),
                summary_text=f"{SUMMARY} Réf. {n}.",  # each text read anew
                categories=rng.choice(CATEGORIES),
                event_date=event,
                origin="file" if n % 30 == 0 else "feed",
            )
        )
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    config = load_config(ROOT / "feeds.yaml")
    period = week_period("2023-W19", PARIS)
    print(f"python {platform.python_version()}, {len(config.themes)} themes")
    for size in (200, 1000, 5000):
        items = make_items(size)
        times = []
        for _ in range(args.repeat):
            stem.cache_clear()
            words.cache_clear()
            began = time.perf_counter()
            result = arrange(items, config, period, Overrides())
            times.append(time.perf_counter() - began)
        median = statistics.median(times)
        kept = sum(len(s.items) for s in result.sections) + len(
            result.agenda.items if result.agenda else ()
        )
        print(
            f"{size:>5} items: median {median * 1000:7.1f} ms "
            f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}), "
            f"{median / size * 1e6:5.0f} µs/item; kept {kept}, trimmed {result.trimmed}"
        )


if __name__ == "__main__":
    main()
