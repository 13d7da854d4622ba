"""Knowledge-base search at 100,000 articles on PostgreSQL: latency of what the portal and
the agents run (``kb.selectors.article_search``: the ranked query, the articles and the
highlighted snippets), as an end user (published public articles only).

    .venv/bin/python bench/kb_search.py                 # 100,000 articles in hd_kb_bench
    .venv/bin/python bench/kb_search.py --articles 20000 --runs 30

Writes the articles once (a database of its own, DATABASE_URL, default hd_kb_bench; a
second run reuses them when the count matches): titles and bodies from an English and
Polish help-desk vocabulary (with diacritics), 90 % public, 85 % published. Then runs each
query of the mix ``--runs`` times after one warm-up and prints p50, p95, p99 and max per
query and overall. Target: p95 under 50 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hd_kb_bench"

SUBJECTS = [
    "VPN", "printer", "Outlook", "password", "laptop", "docking station", "Teams", "SAP",
    "Wi-Fi", "SIM card", "APN", "headset", "monitor", "SharePoint", "OneDrive", "MFA",
    "drukarka", "hasło", "żółty wykrzyknik", "zasięg", "skrzynka pocztowa", "karta SIM",
    "połączenie", "słuchawki", "pulpit zdalny", "aktualizacja", "konto", "uprawnienia",
]  # fmt: skip
PROBLEMS = [
    "does not connect", "shows an error", "is very slow", "asks for the password again",
    "stopped working after the update", "paper jam", "cannot sign in", "no sound",
    "nie działa", "zgłasza błąd", "działa bardzo wolno", "nie łączy się", "zacięcie papieru",
    "brak dźwięku", "nie mogę się zalogować", "wymaga ponownej konfiguracji",
]  # fmt: skip
FILLER = [
    "the",
    "user",
    "restart",
    "check",
    "settings",
    "network",
    "cable",
    "office",
    "branch",
    "Warsaw",
    "Kraków",
    "Gdańsk",
    "client",
    "version",
    "certificate",
    "token",
    "phone",
    "desk",
    "floor",
    "queue",
    "ticket",
    "engineer",
    "agent",
    "sprawdź",
    "ustawienia",
    "uruchom",
    "ponownie",
    "sieć",
    "kabel",
    "biuro",
    "oddział",
    "klient",
    "wersja",
    "certyfikat",
    "telefon",
    "biurko",
    "piętro",
    "zgłoszenie",
    "inżynier",
    "konsultant",
    "żółty",
    "źródło",
    "łącze",
    "gęśla",
    "ćma",
]

# (label, query): what people type.
QUERIES = [
    ("one word", "printer"),
    ("one word, Polish", "drukarka"),
    ("two words", "vpn connect"),
    ("phrase", "paper jam"),
    ("typed title", "my laptop docking station does not connect"),
    ("typo", "pasword"),
    ("typo, two words", "outlok slow"),
    ("diacritics folded", "zolty wykrzyknik"),
    ("Polish sentence", "nie moge sie zalogowac do sap"),
    ("prefix while typing", "sharep"),
    ("rare word", "gesla"),
    ("no match", "xylophone quartz"),
]


def generate(count: int, seed: int = 18) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from kb import text
    from kb.models import Article, ArticleCategory, Audience, State

    rng = random.Random(seed)
    owner, _created = get_user_model().objects.get_or_create(username="bench-kb-owner")
    category, _created = ArticleCategory.objects.get_or_create(name="Bench")
    Article.objects.all().delete()
    now = timezone.now()
    batch = []
    started = time.perf_counter()
    for _number in range(count):
        subject, problem = rng.choice(SUBJECTS), rng.choice(PROBLEMS)
        title = f"{subject} {problem}"[:200]
        words = [rng.choice(FILLER) for _ in range(rng.randint(60, 160))]
        words[rng.randrange(len(words))] = rng.choice(SUBJECTS)
        body = " ".join(words)
        state = State.PUBLISHED if rng.random() < 0.85 else rng.choice([State.DRAFT, State.RETIRED])
        batch.append(
            Article(
                title=title,
                body=body,
                language="pl" if rng.random() < 0.5 else "en",
                audience=Audience.PUBLIC if rng.random() < 0.9 else Audience.INTERNAL,
                category=category,
                state=state,
                owner=owner,
                published_at=now if state == State.PUBLISHED else None,
                # The bodies are plain words: folding them is what save() would store.
                search_title=text.fold(title),
                search_body=text.fold(body),
            )
        )
        if len(batch) == 5000:
            Article.objects.bulk_create(batch)
            batch = []
    Article.objects.bulk_create(batch)
    print(f"wrote {count:,} articles in {time.perf_counter() - started:.1f} s")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--limit", type=int, default=10, help="results asked per search")
    arguments = parser.parse_args()

    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    from bench.generate import ensure_database

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from helpdesk.roles import Role
    from kb import selectors
    from kb.models import Article

    assert connection.vendor == "postgresql", "this benchmark is for PostgreSQL"
    call_command("migrate", verbosity=0)
    if Article.objects.count() != arguments.articles:
        generate(arguments.articles)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE kb_article")
    user, _created = get_user_model().objects.get_or_create(username="bench-kb-end-user")
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get_or_create(name=Role.END_USER.value)[0])

    print(f"load average before: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    print(
        f"{Article.objects.count():,} articles; PostgreSQL "
        f"{connection.cursor().connection.info.server_version}; {arguments.runs} runs per query"
    )
    print(f"{'query':<26}{'hits':>5}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    everything: list[float] = []
    for label, query in QUERIES:
        hits = selectors.article_search(user, query, limit=arguments.limit)  # warm-up
        timings = []
        for _run in range(arguments.runs):
            started = time.perf_counter()
            selectors.article_search(user, query, limit=arguments.limit)
            timings.append((time.perf_counter() - started) * 1000)
        everything += timings
        print(
            f"{label:<26}{len(hits):>5}{statistics.median(timings):>9.1f}"
            f"{percentile(timings, 0.95):>9.1f}{percentile(timings, 0.99):>9.1f}"
            f"{max(timings):>9.1f}"
        )
    p95 = percentile(everything, 0.95)
    print(
        f"{'all queries':<26}{'':>5}{statistics.median(everything):>9.1f}{p95:>9.1f}"
        f"{percentile(everything, 0.99):>9.1f}{max(everything):>9.1f}"
    )
    print(f"p95 {'under' if p95 < 50 else 'OVER'} the 50 ms target")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
