"""Core pages: the front door, the language switch and the user's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from helpdesk.middleware import LANGUAGE_SESSION_KEY
from tests.factories import make_ticket


def test_anonymous_home_redirects_to_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/"


def test_signed_in_user_visiting_login_goes_home(client, end_user):
    client.force_login(end_user)
    response = client.get(reverse("login"))
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_language_switch_translates_the_page_and_stores_the_profile(client, end_user):
    client.force_login(end_user)
    assert end_user.person.language == "en"
    response = client.post(reverse("set_language"), {"language": "pl", "next": "/tickets/"})
    assert response.status_code == 302
    assert response["Location"] == "/tickets/"
    assert client.session[LANGUAGE_SESSION_KEY] == "pl"
    end_user.person.refresh_from_db()
    assert end_user.person.language == "pl"
    page = client.get(reverse("home"))
    assert page["Content-Language"] == "pl"
    assert 'lang="pl"' in page.content.decode()
    assert "Zgłoś problem" in page.content.decode()


def test_profile_language_is_used_at_sign_in(client, end_user):
    end_user.person.language = "pl"
    end_user.person.save()
    client.force_login(end_user)
    assert "Moje zgłoszenia" in client.get(reverse("home")).content.decode()


def test_language_switch_works_on_the_login_page_for_anonymous_visitors(client, db):
    client.post(reverse("set_language"), {"language": "pl", "next": reverse("login")})
    assert "Zaloguj się" in client.get(reverse("login")).content.decode()


def test_language_switch_ignores_foreign_redirects_and_unknown_languages(client, end_user):
    client.force_login(end_user)
    response = client.post(
        reverse("set_language"), {"language": "xx", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"
    end_user.person.refresh_from_db()
    assert end_user.person.language == "en"


def test_language_switch_requires_post(client, db):
    assert client.get(reverse("set_language")).status_code == 405


def test_there_is_one_language_switch(client, end_user):
    # Django's /i18n/setlang/ would switch the session without updating the profile.
    client.force_login(end_user)
    assert reverse("set_language") == "/language/"
    assert client.post("/i18n/setlang/", {"language": "pl"}).status_code == 404
    end_user.person.refresh_from_db()
    assert end_user.person.language == "en"


def test_dates_are_shown_in_the_users_time_zone(client, end_user, first_line):
    ticket = make_ticket(caller=end_user.person, title="Clock check")
    moment = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    type(ticket).objects.filter(pk=ticket.pk).update(updated_at=moment)
    end_user.person.time_zone = "America/New_York"
    end_user.person.save()
    client.force_login(end_user)
    content = client.get(reverse("tickets:my_list")).content.decode()
    # 12:00 UTC is 07:00 in New York in January.
    assert 'datetime="2026-01-15T07:00:00-05:00"' in content
    end_user.person.time_zone = "Asia/Tokyo"
    end_user.person.save()
    content = client.get(reverse("tickets:my_list")).content.decode()
    assert 'datetime="2026-01-15T21:00:00+09:00"' in content


def _po_entries(path):
    """(msgid, is_plural, is_fuzzy) of each entry of a .po file (a small reader, no gettext)."""
    import ast

    entries, current, fuzzy, plural, key = [], None, False, False, None
    lines = [*path.read_text(encoding="utf-8").splitlines(), ""]
    for line in lines:
        if line.startswith("#,"):
            fuzzy = "fuzzy" in line
        elif line.startswith("msgid "):
            current, key = ast.literal_eval(line[6:]), "msgid"
        elif line.startswith("msgid_plural "):
            plural, key = True, "plural"
        elif line.startswith("msgstr"):
            key = "msgstr"
        elif line.startswith('"') and key == "msgid":
            current += ast.literal_eval(line)
        elif not line.strip() and current is not None:
            if current:
                entries.append((current, plural, fuzzy))
            current, fuzzy, plural, key = None, False, False, None
    return entries


@pytest.mark.parametrize(
    ("catalogue_dir", "at_least"), [("locale", 300), ("cti/locale", 100), ("mail/locale", 200)]
)
def test_polish_catalogue_is_complete_and_compiled(catalogue_dir, at_least):
    import gettext
    from pathlib import Path

    from django.conf import settings

    directory = Path(settings.BASE_DIR) / catalogue_dir / "pl" / "LC_MESSAGES"
    entries = _po_entries(directory / "django.po")
    assert len(entries) > at_least
    assert not [msgid for msgid, _plural, fuzzy in entries if fuzzy]
    with open(directory / "django.mo", "rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)._catalog
    untranslated = [
        msgid
        for msgid, plural, _fuzzy in entries
        if not catalogue.get((msgid, 0) if plural else msgid)
    ]
    assert untranslated == [], "translate these in locale/pl and compile: " + repr(untranslated)
