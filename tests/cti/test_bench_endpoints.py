"""The benchmark's endpoints exist only on a server started for the benchmark."""

from __future__ import annotations

import importlib

import pytest
from django.urls import NoReverseMatch, Resolver404, clear_url_caches, resolve, reverse

pytestmark = pytest.mark.django_db


def _reload_urls() -> None:
    import cti.urls
    import helpdesk.urls

    importlib.reload(cti.urls)
    importlib.reload(helpdesk.urls)
    clear_url_caches()


@pytest.fixture
def bench_endpoints(settings):
    """URLs as a server started with CTI_BENCH_ENDPOINTS=1 has them (read at import)."""
    settings.CTI_BENCH_ENDPOINTS = True
    _reload_urls()
    yield
    settings.CTI_BENCH_ENDPOINTS = False
    _reload_urls()


def test_echo_endpoint_is_not_routed_by_default(client, settings):
    assert settings.CTI_BENCH_ENDPOINTS is False
    with pytest.raises(Resolver404):
        resolve("/cti/bench/echo/1/")
    with pytest.raises(NoReverseMatch):
        reverse("cti:bench_echo", args=[1])
    assert client.post("/cti/bench/echo/1/?seq=1").status_code == 404


def test_echo_endpoint_answers_when_the_benchmark_setting_is_on(client, bench_endpoints):
    from helpdesk.endpoints import is_machine_endpoint

    assert reverse("cti:bench_echo", args=[1]) == "/cti/bench/echo/1/"
    assert is_machine_endpoint("/cti/bench/echo/1/")
    response = client.post("/cti/bench/echo/1/?seq=1")
    assert response.status_code == 200
    assert response.json() == {}
