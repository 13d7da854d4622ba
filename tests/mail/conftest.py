"""Fixtures of the mail tests: a private Dovecot, the OAuth2 provider beside it, mailboxes."""

import pytest

from mail.models import Mailbox
from tests.mail import dovecot as dovecot_module


@pytest.fixture(scope="session")
def oauth_provider():
    provider = dovecot_module.OAuthProvider()
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def provider(oauth_provider):
    """The session's provider, its per-test switches reset afterwards."""
    yield oauth_provider
    oauth_provider.rotate_refresh_tokens = False
    oauth_provider.access_lifetime = 3600


@pytest.fixture(scope="session")
def dovecot_server(oauth_provider):
    if not dovecot_module.available():
        pytest.skip("Dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    server = dovecot_module.Dovecot(oauth_provider)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def dovecot(request, dovecot_server):
    """The session's Dovecot; a failing test's report shows what Dovecot logged meanwhile."""
    request.node.dovecot_log_start = dovecot_server.log_size()
    return dovecot_server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("dovecot_server")
    if report.failed and server is not None:
        start = getattr(item, "dovecot_log_start", 0)
        report.sections.append((f"dovecot log ({server.log_path})", server.log(start)))


@pytest.fixture
def proxies():
    """Make :class:`CuttingProxy` instances that are closed after the test."""
    made = []

    def make(upstream_port, **options):
        proxy = dovecot_module.CuttingProxy(upstream_port, **options)
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()


@pytest.fixture
def make_mailbox(db, dovecot, first_line):
    """A Mailbox reading ``user``'s INBOX on the test Dovecot over IMAPS (self-signed)."""
    count = 0

    def make(user, **fields):
        nonlocal count
        count += 1
        password = fields.pop("password", dovecot.passwords.get(user, ""))
        values = {
            "name": f"Mailbox {count}",
            "address": f"servicedesk{count}@helpdesk.test",
            "host": dovecot.host,
            "port": dovecot.imaps_port,
            "security": Mailbox.Security.IMAPS,
            "username": user,
            "verify_certificate": False,
            "default_group": first_line,
            **fields,
        }
        mailbox = Mailbox(**values)
        if password:
            mailbox.set_password(password)
        mailbox.save()
        return mailbox

    return make
