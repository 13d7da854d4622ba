"""Error pages in the layout and the reader's language, DEBUG off unless asked for, the
favicon, and one log line per refused request."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.template import loader
from django.test import Client
from django.urls import include, path, reverse

from helpdesk.middleware import LANGUAGE_SESSION_KEY

ROOT = Path(__file__).resolve().parents[2]


def _boom(request):
    raise RuntimeError("a bug in a view")


# This module is also the URL configuration of the 500 tests: the project's URLs and a view
# that fails.
urlpatterns = [path("boom/", _boom), path("", include("helpdesk.urls"))]
handler404 = "helpdesk.api_support.not_found"


def _polish(client, user):
    client.force_login(user)
    session = client.session
    session[LANGUAGE_SESSION_KEY] = "pl"
    session.save()
    return client


def test_403_is_a_page_in_the_layout(client, end_user):
    client.force_login(end_user)
    response = client.get(reverse("tickets:console"))
    assert response.status_code == 403
    content = response.content.decode()
    assert 'data-status="403"' in content
    assert 'class="navbar' in content  # the layout, with the navbar
    assert "Forbidden" in content
    assert 'data-testid="current-user"' in content  # the request's context: who is signed in


def test_403_in_polish(client, end_user):
    content = _polish(client, end_user).get(reverse("tickets:console")).content.decode()
    assert 'lang="pl"' in content
    assert "Dostęp zabroniony" in content


def test_404_is_a_page_in_the_layout_without_url_patterns(client, end_user, settings):
    settings.DEBUG = False
    client.force_login(end_user)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    content = response.content.decode()
    assert 'data-status="404"' in content
    assert 'class="navbar' in content
    assert "Page not found" in content
    # The technical 404 of DEBUG lists the URL configuration.
    assert "URLconf" not in content
    assert "admin/" not in content.replace('href="/admin/', "")


def test_404_in_polish_and_for_anonymous_visitors(client, end_user):
    polish = _polish(Client(), end_user).get("/no/such/page/").content.decode()
    assert 'lang="pl"' in polish
    assert "Strona nie została znaleziona" in polish
    anonymous = client.get("/no/such/page/")
    assert anonymous.status_code == 404
    assert 'data-status="404"' in anonymous.content.decode()


def test_api_404_stays_json(client, end_user):
    client.force_login(end_user)
    response = client.get("/api/no-such-endpoint/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.urls("tests.helpdesk.test_error_pages")
def test_500_is_a_page_in_the_layout_and_the_language(end_user):
    client = _polish(Client(raise_request_exception=False), end_user)
    response = client.get("/boom/")
    assert response.status_code == 500
    content = response.content.decode()
    assert 'data-status="500"' in content
    assert "Błąd serwera" in content
    assert 'lang="pl"' in content
    assert "a bug in a view" not in content


def test_500_template_needs_no_context():
    # Django renders it with no request and no context processors (the database may be down).
    content = loader.get_template("500.html").render()
    assert 'data-status="500"' in content
    assert "Server error" in content


def test_csrf_failure_is_a_page_and_one_log_line(end_user, caplog):
    client = Client(enforce_csrf_checks=True)
    client.force_login(end_user)
    with caplog.at_level(logging.WARNING):
        response = client.post(reverse("set_language"), {"language": "pl"})
    assert response.status_code == 403
    assert 'data-status="403"' in response.content.decode()
    records = [r for r in caplog.records if r.name.startswith("django.")]
    assert len(records) == 1
    assert records[0].name == "django.security.csrf"
    assert records[0].exc_info is None
    assert "\n" not in logging.Formatter().format(records[0])


def test_a_403_logs_one_line_without_a_traceback(client, end_user, caplog):
    client.force_login(end_user)
    with caplog.at_level(logging.INFO):
        response = client.get(reverse("tickets:console"))
    assert response.status_code == 403
    records = [r for r in caplog.records if r.name.startswith("django.")]
    assert [(r.name, r.getMessage()) for r in records] == [
        ("django.request", "Forbidden (Permission denied): /console/")
    ]
    assert records[0].exc_info is None
    assert "\n" not in logging.Formatter().format(records[0])
    assert "Traceback" not in caplog.text


def test_django_prints_nothing_of_its_own_beside_the_root_handler():
    # Django's default "console" handler (DEBUG only) on the "django" logger printed every
    # record a second time, beside the root's handler.
    assert logging.getLogger("django").handlers == []
    assert logging.getLogger("django").propagate


@pytest.mark.urls("tests.helpdesk.test_error_pages")
def test_a_500_keeps_its_traceback(end_user, caplog):
    client = Client(raise_request_exception=False)
    client.force_login(end_user)
    with caplog.at_level(logging.ERROR):
        client.get("/boom/")
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info is not None


def test_favicon_answers(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("img/favicon.svg")
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert b"<svg" in b"".join(icon.streaming_content)


def test_pages_link_the_icon(client, db):
    page = client.get(reverse("login")).content.decode()
    assert 'rel="icon"' in page and "favicon.svg" in page


def _settings_debug(**env) -> str:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "DJANGO_SETTINGS_MODULE", "HELPDESK_ENV"}
    }
    environment.update(env)
    result = subprocess.run(
        [sys.executable, "-c", "from helpdesk import settings; print(settings.DEBUG)"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_debug_is_off_unless_asked_for():
    # `make run` (manage.py serve) reads the same settings with nothing set.
    assert _settings_debug() == "False"
    assert _settings_debug(DEBUG="1") == "True"
    assert settings.STORAGES["staticfiles"]["BACKEND"].endswith("StaticFilesStorage")
    assert settings.WHITENOISE_USE_FINDERS  # static files served without DEBUG or collectstatic
