"""Knowledge-base demo data for ``manage.py seed_demo``: articles of the mobile operator's IT
call centre in English and Polish, some internal, published through the workflow (written by
the agent ``agent``, published by ``manager``). Idempotent: an article whose title exists is
left alone."""

from __future__ import annotations

import sys
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from helpdesk.models import Service
from kb import services
from kb.models import Announcement, Article, ArticleCategory

CATEGORIES = ["Remote access", "Accounts and passwords", "Printing", "E-mail", "Mobile phones"]

# (key, category, language, audience, title, summary, body, translation of key, services)
ARTICLES = [
    ("vpn", "Remote access", "en", "public", "Connect to the VPN from home",
     "Install the client, sign in with your company account, approve the push.",
     "1. Open **GlobalProtect** (installed on every company laptop).\n"
     "2. Portal: `vpn.mobilnet.example`.\n3. Sign in with your company e-mail and password.\n"
     "4. Approve the push notification on your phone.\n\n"
     "If it says *gateway unreachable*, check that your home internet works and restart the "
     "laptop. Hotel and airport networks sometimes block VPN: use your phone's hotspot.",
     None, ["VPN & remote access"]),
    ("vpn-pl", "Remote access", "pl", "public", "Połączenie z VPN z domu",
     "Zainstaluj klienta, zaloguj się kontem firmowym, zatwierdź powiadomienie.",
     "1. Otwórz **GlobalProtect** (jest na każdym laptopie firmowym).\n"
     "2. Portal: `vpn.mobilnet.example`.\n3. Zaloguj się firmowym adresem e-mail i hasłem.\n"
     "4. Zatwierdź powiadomienie push w telefonie.\n\n"
     "Komunikat *gateway unreachable*: sprawdź domowy internet i uruchom laptop ponownie. "
     "Sieci w hotelach i na lotniskach bywają zablokowane: użyj hotspotu w telefonie.",
     "vpn", ["VPN & remote access"]),
    ("password", "Accounts and passwords", "en", "public", "Reset a forgotten password",
     "Self-service reset at passwords.mobilnet.example with your phone.",
     "Go to `https://passwords.mobilnet.example`, enter your login and the code sent by SMS "
     "to your company phone. The new password needs 12 characters and may not repeat the last "
     "five.\n\nAfter the change, sign in again on your phone's mail app and the Wi-Fi.",
     None, ["Accounts & passwords"]),
    ("password-pl", "Accounts and passwords", "pl", "public", "Reset zapomnianego hasła",
     "Samodzielny reset na passwords.mobilnet.example przez SMS.",
     "Wejdź na `https://passwords.mobilnet.example`, podaj login i kod z SMS-a wysłanego na "
     "telefon służbowy. Nowe hasło ma mieć 12 znaków i nie może powtarzać pięciu ostatnich.\n\n"
     "Po zmianie zaloguj się ponownie w poczcie na telefonie i w Wi-Fi.",
     "password", ["Accounts & passwords"]),
    ("printer", "Printing", "en", "public", "Printer shows paper jam but no paper is stuck",
     "Open every tray, remove the toner, check the rear door.",
     "- Switch the printer off.\n- Open trays 1 and 2 and the **rear door**; remove torn "
     "scraps.\n- Take out the toner cartridge and look for paper behind it.\n- Switch on.\n\n"
     "Still jammed? Report it with the printer's asset number (sticker on the front).",
     None, ["Printing & scanning"]),
    ("printer-pl", "Printing", "pl", "public", "Drukarka zgłasza zacięcie papieru, choć go nie ma",
     "Otwórz wszystkie podajniki, wyjmij toner, sprawdź tylną klapkę.",
     "- Wyłącz drukarkę.\n- Otwórz podajniki 1 i 2 oraz **tylną klapkę**; usuń skrawki.\n"
     "- Wyjmij kasetę z tonerem i sprawdź, czy za nią nie ma papieru.\n- Włącz drukarkę.\n\n"
     "Nadal zacięta? Zgłoś to z numerem inwentarzowym (żółta naklejka z przodu).",
     "printer", ["Printing & scanning"]),
    ("outlook", "E-mail", "en", "public", "Outlook keeps asking for the password",
     "Clear the stored credentials and sign in again.",
     "Close Outlook. Open *Credential Manager* > *Windows Credentials* and remove every entry "
     "with `MicrosoftOffice`. Start Outlook and sign in with your company account.\n\n"
     "On a phone: remove the account from the Outlook app and add it again.",
     None, ["E-mail (Exchange Online)"]),
    ("apn", "Mobile phones", "en", "public", "Mobile data does not work: set the APN",
     "APN internet.mobilnet.example, no user name or password.",
     "Settings > Mobile network > Access point names > **Add**:\n\n"
     "| Field | Value |\n|---|---|\n| Name | Mobilnet |\n| APN | `internet.mobilnet.example` |"
     "\n| MMSC | empty |\n\nSave, choose it and restart the phone.",
     None, ["Mobile devices (MDM)"]),
    ("apn-pl", "Mobile phones", "pl", "public", "Nie działa transmisja danych: ustaw APN",
     "APN internet.mobilnet.example, bez użytkownika i hasła.",
     "Ustawienia > Sieć komórkowa > Nazwy punktów dostępu > **Dodaj**: nazwa Mobilnet, "
     "APN `internet.mobilnet.example`. Zapisz, wybierz i uruchom telefon ponownie. Żółty "
     "wykrzyknik przy zasięgu znika po minucie.",
     "apn", ["Mobile devices (MDM)"]),
    ("unlock-internal", "Accounts and passwords", "en", "internal",
     "Agents: unlocking an account after the caller is verified",
     "Verify two facts from the directory before unlocking; never read the password out.",
     "Ask for the employee number **and** the manager's name; compare with the caller card. "
     "Then in the admin console: *Users* > the user > *Unlock*. Log the verification in a "
     "work note. Three failed verifications: escalate to Access (IAM).",
     None, []),
    ("vpn-internal", "Remote access", "pl", "internal",
     "Agenci: VPN nie łączy się po zmianie hasła",
     "Stare hasło w pamięci klienta VPN blokuje konto po kilku próbach.",
     "Poproś dzwoniącego o wylogowanie z GlobalProtect i ponowne logowanie nowym hasłem. "
     "Jeśli konto jest już zablokowane, odblokuj je (artykuł o weryfikacji) i poczekaj pięć "
     "minut na synchronizację.",
     None, ["VPN & remote access"]),
]  # fmt: skip


def seed(stdout=None) -> None:
    stdout = stdout or sys.stdout
    User = get_user_model()
    author = User.objects.filter(username="agent").first()
    publisher = User.objects.filter(username="manager").first()
    if author is None or publisher is None:
        stdout.write("kb: the demo logins 'agent' and 'manager' are missing; no articles.\n")
        return
    categories = {
        name: ArticleCategory.objects.get_or_create(name=name, defaults={"order": index})[0]
        for index, name in enumerate(CATEGORIES)
    }
    made: dict[str, Article] = {}
    created = 0
    today = timezone.localdate()
    for index, row in enumerate(ARTICLES):
        key, category, language, audience, title, summary, body, original, service_names = row
        existing = Article.objects.filter(title=title).first()
        if existing is not None:
            made[key] = existing
            continue
        with transaction.atomic():
            article = services.article_create(
                by=author,
                title=title,
                summary=summary,
                body=body,
                language=language,
                audience=audience,
                category=categories[category],
                services=list(Service.objects.filter(name__in=service_names)),
                # One article is overdue for review, so the owner's page shows a reminder.
                review_by=today - timedelta(days=3) if index == 0 else today + timedelta(days=180),
                translation_of=made.get(original) if original else None,
            )
            services.article_transition(article=article, by=author, name="submit")
            services.article_transition(article=article, by=publisher, name="publish")
        made[key] = article
        created += 1
    stdout.write(f"kb: {created} articles created ({len(ARTICLES) - created} already there).\n")
    _seed_announcements(publisher, stdout)
    _seed_scripts(stdout, made)


ANNOUNCEMENTS = [
    # (title, severity, pinned, audience, site name or "", days from now to start, body)
    (
        "Planned maintenance of the e-mail system on Saturday 06:00-10:00",
        "warning",
        True,
        "everyone",
        "",
        -1,
        "Outlook and webmail will be **unavailable** on Saturday from 06:00 to 10:00 while "
        "the mail servers are updated. Mail sent to you meanwhile is delivered afterwards.",
    ),
    (
        "New VPN client from Monday",
        "info",
        False,
        "everyone",
        "",
        -2,
        "The new VPN client installs itself on Monday. After the restart, sign in with your "
        "usual password. Instructions: search the knowledge base for *VPN*.",
    ),
    (
        "Printers on floor 3 replaced",
        "info",
        False,
        "site",
        "Warszawa HQ",
        -3,
        "The printers on floor 3 were replaced. They appear as *WAW-3-PRN-01* and "
        "*WAW-3-PRN-02*; the old ones were removed from the list.",
    ),
]


def _seed_announcements(author, stdout) -> None:
    from helpdesk.models import Site

    made = 0
    for title, severity, pinned, audience, site_name, start_days, body in ANNOUNCEMENTS:
        if Announcement.objects.filter(title=title).exists():
            continue
        site = Site.objects.filter(name=site_name).first() if site_name else None
        if audience == "site" and site is None:
            audience = "everyone"
        services.announcement_save(
            by=author,
            title=title,
            body=body,
            severity=severity,
            pinned=pinned,
            audience=audience,
            site=site,
            valid_from=timezone.now() + timedelta(days=start_days),
        )
        made += 1
    stdout.write(f"kb: {made} announcements on the bulletin board.\n")


def _script_tree(steps, made, article_key):
    """``steps``: (id, instruction, question, answers); an answer is (label, next) or
    (label, None, outcome[, group]); "article" outcomes name the demo article ``article_key``."""
    article = made.get(article_key)
    tree_steps = []
    for step_id, instruction, question, answers in steps:
        cleaned = []
        for answer in answers:
            label, target, *rest = answer
            if target:
                cleaned.append({"label": label, "next": target})
            elif rest[0] == "escalate":
                cleaned.append({"label": label, "outcome": "escalate", "group": rest[1]})
            elif rest[0] == "article":
                if article is None:
                    continue
                cleaned.append({"label": label, "outcome": "article", "article": article.pk})
            else:
                cleaned.append({"label": label, "outcome": rest[0]})
        tree_steps.append(
            {"id": step_id, "instruction": instruction, "question": question, "answers": cleaned}
        )
    return {"start": steps[0][0], "steps": tree_steps}


# (name, language, category path, service, article key, steps)
SCRIPTS = [
    ("VPN does not connect", "en", ("Network", "VPN"), "VPN & remote access", "vpn", [
        ("internet", "Ask the caller to open a web page without the VPN.",
         "Do web pages open without the VPN?",
         [("Yes", "client"), ("No", None, "article")]),
        ("client", "Ask the caller to click the GlobalProtect icon next to the clock.",
         "What does GlobalProtect say?",
         [("Not installed", None, "escalate", "desktop"), ("Gateway unreachable", "restart"),
          ("Asks for the password again and again", "password")]),
        ("restart", "Ask the caller to restart the laptop and connect again.",
         "Does the VPN connect after the restart?",
         [("Yes", None, "solved"), ("No", None, "escalate", "network")]),
        ("password", "Check in the directory that the account is not locked; unlock it.",
         "Does it connect with the account unlocked?",
         [("Yes", None, "solved"), ("No", None, "escalate", "access")]),
    ]),
    ("VPN nie łączy się", "pl", ("Network", "VPN"), "VPN & remote access", "vpn-pl", [
        ("internet", "Poproś dzwoniącego o otwarcie strony WWW bez VPN.",
         "Czy strony otwierają się bez VPN?",
         [("Tak", "client"), ("Nie", None, "article")]),
        ("client", "Poproś o kliknięcie ikony GlobalProtect przy zegarze.",
         "Co pokazuje GlobalProtect?",
         [("Brak programu", None, "escalate", "desktop"), ("Gateway unreachable", "restart")]),
        ("restart", "Poproś o ponowne uruchomienie laptopa i połączenie.",
         "Czy VPN łączy się po restarcie?",
         [("Tak", None, "solved"), ("Nie", None, "escalate", "network")]),
    ]),
    ("Printer does not print", "en", ("Hardware", "Printer"), "Printing & scanning", "printer", [
        ("display", "Ask the caller to read the printer's display.",
         "What does the printer's display show?",
         [("Paper jam", None, "article"), ("Ready", "queue"), ("Nothing, it is off", "power")]),
        ("power", "Ask the caller to check the power cable and switch the printer on.",
         "Does the printer switch on?",
         [("Yes", "queue"), ("No", None, "escalate", "desktop")]),
        ("queue", "Ask the caller to open the print queue (Settings, Printers) and cancel "
         "stuck jobs, then print a test page.",
         "Does the test page print?",
         [("Yes", None, "solved"), ("No", None, "escalate", "desktop")]),
    ]),
    ("Drukarka nie drukuje", "pl", ("Hardware", "Printer"), "Printing & scanning",
     "printer-pl", [
        ("display", "Poproś o odczytanie wyświetlacza drukarki.",
         "Co pokazuje wyświetlacz drukarki?",
         [("Zacięcie papieru", None, "article"), ("Gotowa", "queue")]),
        ("queue", "Poproś o otwarcie kolejki wydruku, anulowanie zawieszonych zadań i wydruk "
         "strony testowej.",
         "Czy strona testowa się drukuje?",
         [("Tak", None, "solved"), ("Nie", None, "escalate", "desktop")]),
    ]),
]  # fmt: skip


def _seed_scripts(stdout, made) -> None:
    """Diagnostic scripts written by the demo's ``engineer``; a script whose name exists is
    left alone."""
    from helpdesk.errors import ValidationError
    from helpdesk.models import Category
    from kb import scripts
    from kb.models import Script

    User = get_user_model()
    engineer = User.objects.filter(username="engineer").first()
    if engineer is None:
        stdout.write("kb: the demo login 'engineer' is missing; no diagnostic scripts.\n")
        return
    count = 0
    for name, language, (parent, child), service, article_key, steps in SCRIPTS:
        if Script.objects.filter(name=name).exists():
            continue
        try:
            scripts.script_save(
                by=engineer,
                name=name,
                language=language,
                tree=_script_tree(steps, made, article_key),
                categories=list(Category.objects.filter(name=child, parent__name=parent)),
                services=list(Service.objects.filter(name=service)),
            )
        except ValidationError as error:
            # The demo's groups are missing (a partial seed): say so rather than stop.
            stdout.write(f"kb: script {name!r} not created: {' '.join(error.messages)}\n")
            continue
        count += 1
    stdout.write(f"kb: {count} diagnostic scripts created.\n")
