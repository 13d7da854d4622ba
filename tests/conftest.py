import pytest
from rest_framework.test import APIClient

from helpdesk.models import SupportGroup
from helpdesk.roles import Role
from tests.factories import SupportGroupFactory, make_user


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _default_language(settings):
    """Every test starts in the site's language: a page a test client requested in Polish
    leaves Polish active in the test's thread (the locale middleware activates, nothing
    deactivates), and texts written after it would come out in Polish."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _celery_in_process(settings):
    """Tasks run where they are sent (after the commit that schedules them), errors raised:
    no test leaves messages in the embedded broker's folder under var/."""
    from helpdesk.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture(autouse=True)
def _fresh_reference_data():
    """Groups, services, categories and sites kept by a previous test's process state
    (helpdesk.refdata) are forgotten: its rows were rolled back."""
    from helpdesk import refdata

    refdata.clear()
    yield
    refdata.clear()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Real hashers cost ~0.1 s per user on this machine; the default list stays behind MD5
    # so hashes made elsewhere (seed_demo, the demo logins) still verify.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]


@pytest.fixture
def first_line(db):
    return SupportGroupFactory(
        name="Service Desk", code="service-desk", tier=SupportGroup.Tier.FIRST
    )


@pytest.fixture
def network_group(db):
    return SupportGroupFactory(name="Network", code="network", tier=SupportGroup.Tier.SECOND)


@pytest.fixture
def agent(db, first_line):
    user = make_user(Role.AGENT, username="agent")
    first_line.members.add(user)
    return user


@pytest.fixture
def engineer(db, network_group):
    user = make_user(Role.ENGINEER, username="engineer")
    network_group.members.add(user)
    return user


@pytest.fixture
def end_user(db):
    return make_user(Role.END_USER, username="enduser")


@pytest.fixture
def other_end_user(db):
    return make_user(Role.END_USER, username="otheruser")


@pytest.fixture
def manager(db):
    return make_user(Role.MANAGER, username="manager")


@pytest.fixture
def change_board(db):
    return make_user(Role.CHANGE_BOARD, username="cab")


@pytest.fixture
def admin_user(db):
    return make_user(Role.ADMINISTRATOR, username="admin", is_staff=True, is_superuser=True)


# --- REST API clients -------------------------------------------------------------------


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def as_agent(api, agent):
    api.force_login(agent)
    return api


@pytest.fixture
def as_end_user(api, end_user):
    api.force_login(end_user)
    return api


@pytest.fixture
def as_admin(api, admin_user):
    api.force_login(admin_user)
    return api


def pytest_collection_modifyitems(config, items):
    """Browser tests run last. Playwright's sync API leaves an asyncio event loop set on the
    main thread for the rest of the session, and ``async_to_sync`` (the websocket tests of
    cti, sla and tickets) refuses to run in a thread that has one."""
    items.sort(key=lambda item: "/tests/e2e/" in str(item.path).replace("\\", "/"))
