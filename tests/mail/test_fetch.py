"""Fetching mail over IMAP from a real Dovecot (tests/mail/dovecot.py) into tickets."""

import re
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from mail import imap, tasks
from mail.models import InboundMessage, Mailbox
from mail.services import fetch, ingest
from tests.mail import dovecot as dovecot_module
from tests.mail.dovecot import make_mail
from tickets.models import Channel, Ticket

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not dovecot_module.available(),
        reason="Dovecot is not installed (Debian: apt-get install dovecot-imapd)",
    ),
]

SEEN = "\\Seen"


def subjects(contents):
    return [subject for subject, _flags in contents]


# --- taking new mail ---------------------------------------------------------------------


def test_new_mail_over_imaps_becomes_a_ticket_and_is_marked_seen(dovecot, make_mailbox):
    user = dovecot.add_user()
    dovecot.append(user, make_mail("Printer out of toner", message_id="<toner-1@example.com>"))
    mailbox = make_mailbox(user)

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert (result.taken, result.quarantined, result.failed, result.error) == (1, 0, 0, "")
    assert str(result) == "mails taken: 1, quarantined: 0, failed: 0"
    message = InboundMessage.objects.get()
    assert message.source == InboundMessage.Source.IMAP
    assert message.mailbox == mailbox
    assert message.message_id.strip("<>") == "toner-1@example.com"
    assert message.server_uid == "1"
    assert b"out of toner" in bytes(message.raw)
    ticket = Ticket.objects.get()
    assert message.ticket == ticket
    assert ticket.channel == Channel.EMAIL
    assert ticket.title == "Printer out of toner"
    assert dovecot.contents(user) == [("Printer out of toner", {SEEN})]
    mailbox.refresh_from_db()
    assert mailbox.last_fetch_at is not None
    assert mailbox.last_error == ""


@pytest.mark.parametrize("security", [Mailbox.Security.PLAIN, Mailbox.Security.STARTTLS])
def test_plain_imap_and_starttls_fetch_too(dovecot, make_mailbox, security):
    user = dovecot.add_user()
    dovecot.append(user, make_mail(f"Over {security}"))
    mailbox = make_mailbox(user, security=security, port=dovecot.imap_port)

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert (result.taken, result.error) == (1, "")
    assert Ticket.objects.get().title == f"Over {security}"
    session = "TLS" if security == Mailbox.Security.STARTTLS else "secured"
    # Dovecot logs "TLS" for an encrypted session, "secured" for plain text from localhost.
    assert re.search(rf"Login: user=<{re.escape(user)}>.*\b{session}\b", dovecot.log())


def test_a_self_signed_certificate_is_refused_unless_verification_is_off(dovecot, make_mailbox):
    user = dovecot.add_user()
    dovecot.append(user, make_mail("Not yet"))
    mailbox = make_mailbox(user, verify_certificate=True)

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert "certificate" in result.error
    assert "verify the server's certificate" in result.error
    mailbox.refresh_from_db()
    assert mailbox.last_error == result.error
    assert mailbox.last_error_at is not None
    assert mailbox.last_fetch_at is None
    assert dovecot.contents(user) == [("Not yet", set())]
    assert not InboundMessage.objects.exists()


@pytest.mark.parametrize(
    ("security", "port"),
    [(Mailbox.Security.IMAPS, "imap_port"), (Mailbox.Security.PLAIN, "imaps_port")],
)
def test_the_wrong_security_for_the_port_is_named(
    dovecot, make_mailbox, monkeypatch, security, port
):
    monkeypatch.setattr(imap, "TIMEOUT_SECONDS", 1)  # plain text to a TLS port: no answer
    mailbox = make_mailbox(dovecot.add_user(), security=security, port=getattr(dovecot, port))

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert "could not be reached" in result.error
    assert "Is the connection security right for this port?" in result.error


def test_mails_already_seen_are_not_taken_when_marking_seen(dovecot, make_mailbox):
    user = dovecot.add_user()
    dovecot.append(user, make_mail("Read by a person"), flags=[SEEN])
    dovecot.append(user, make_mail("New"))
    mailbox = make_mailbox(user)

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert result.taken == 1
    assert [m.subject for m in InboundMessage.objects.all()] == ["New"]


def test_a_batch_takes_at_most_mail_fetch_batch_mails_oldest_first(dovecot, make_mailbox, settings):
    settings.MAIL_FETCH_BATCH = 2
    user = dovecot.add_user()
    dovecot.append(user, *(make_mail(f"Mail {n}") for n in range(1, 4)))
    mailbox = make_mailbox(user)

    assert fetch.mailbox_fetch(mailbox=mailbox).taken == 2
    assert sorted(InboundMessage.objects.values_list("subject", flat=True)) == [
        "Mail 1",
        "Mail 2",
    ]
    assert fetch.mailbox_fetch(mailbox=mailbox).taken == 1
    assert InboundMessage.objects.count() == 3


# --- what happens to a mail on the server once taken -------------------------------------


def test_after_fetch_move_puts_the_mail_in_a_folder_created_for_it(dovecot, make_mailbox):
    user = dovecot.add_user()
    dovecot.append(user, make_mail("Move me"), make_mail("Me too"))
    mailbox = make_mailbox(
        user, after_fetch=Mailbox.AfterFetch.MOVE, move_to_folder="Helpdesk/Taken"
    )

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert result.taken == 2
    assert dovecot.contents(user) == []
    assert subjects(dovecot.contents(user, "Helpdesk/Taken")) == ["Move me", "Me too"]


def test_the_extensions_offered_after_the_sign_in_are_known(dovecot, make_mailbox):
    # Before the sign-in Dovecot announces neither MOVE nor UIDPLUS.
    mailbox = make_mailbox(dovecot.add_user())
    with imap.connect(mailbox) as connection:
        assert {"MOVE", "UIDPLUS"} <= connection.capabilities


def test_after_fetch_move_without_the_move_extension_copies_then_deletes(
    dovecot, make_mailbox, monkeypatch
):
    sign_in = imap.ImapConnection.sign_in

    def sign_in_without_move(self, mailbox):
        sign_in(self, mailbox)
        self.capabilities.discard("MOVE")

    monkeypatch.setattr(imap.ImapConnection, "sign_in", sign_in_without_move)
    user = dovecot.add_user()
    dovecot.append(user, make_mail("Copied"), make_mail("Left alone"))
    dovecot.append(user, make_mail("Read already"), flags=[SEEN])
    mailbox = make_mailbox(user, after_fetch=Mailbox.AfterFetch.MOVE, move_to_folder="Taken")

    assert fetch.mailbox_fetch(mailbox=mailbox).taken == 3  # move takes seen ones too
    assert dovecot.contents(user) == []
    assert subjects(dovecot.contents(user, "Taken")) == ["Copied", "Left alone", "Read already"]


def test_after_fetch_delete_expunges_only_the_mails_taken(dovecot, make_mailbox, monkeypatch):
    user = dovecot.add_user()
    dovecot.append(user, make_mail("Delete me"), make_mail("Breaks ingest"))
    mailbox = make_mailbox(user, after_fetch=Mailbox.AfterFetch.DELETE)
    receive = ingest.message_receive

    def receive_refusing_one(**kwargs):
        if b"Breaks ingest" in kwargs["raw"]:
            raise RuntimeError("database unavailable")
        return receive(**kwargs)

    monkeypatch.setattr(ingest, "message_receive", receive_refusing_one)

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert (result.taken, result.failed) == (1, 1)
    assert dovecot.contents(user) == [("Breaks ingest", set())]


def test_after_fetch_move_needs_a_folder(dovecot, make_mailbox):
    user = dovecot.add_user()
    dovecot.append(user, make_mail("Stays"))
    mailbox = make_mailbox(user, after_fetch=Mailbox.AfterFetch.MOVE, move_to_folder="")

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert "no folder" in result.error
    assert dovecot.contents(user) == [("Stays", set())]


def test_a_missing_folder_is_a_clear_error(dovecot, make_mailbox):
    user = dovecot.add_user()
    mailbox = make_mailbox(user, folder="Support")

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert "The folder “Support” could not be opened" in result.error
    mailbox.refresh_from_db()
    assert mailbox.last_error == result.error


# --- oversized mail ------------------------------------------------------------------------


def test_an_oversized_mail_is_taken_as_its_headers_only(dovecot, make_mailbox, settings):
    settings.MAIL_MAX_BYTES = 4000
    user = dovecot.add_user()
    big = make_mail("Scan of the contract", body="A" * 20_000, message_id="<big@example.com>")
    dovecot.append(user, big, make_mail("Small one"))
    mailbox = make_mailbox(user)
    log_start = dovecot.log_size()

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert (result.taken, result.quarantined) == (1, 1)
    message = InboundMessage.objects.get(subject="Scan of the contract")
    assert message.is_truncated
    assert message.size > 20_000  # the size the server told, not what was downloaded
    raw = bytes(message.raw)
    assert raw.startswith(b"From: ") or b"Subject: Scan of the contract" in raw
    assert b"AAAA" not in raw
    assert len(raw) < 2000
    assert message.status == InboundMessage.Status.QUARANTINED
    assert message.reason == InboundMessage.Reason.TOO_LARGE
    assert {flags == {SEEN} for _subject, flags in dovecot.contents(user)} == {True}
    # Dovecot's own count of body bytes sent in the fetcher's session: the small mail only.
    session = next(line for line in dovecot.log(log_start).splitlines() if f"imap({user})" in line)
    body_bytes = int(re.search(r"body_bytes=(\d+)", session).group(1))
    assert body_bytes < 4000


# --- the same mail twice ----------------------------------------------------------------


def test_the_same_mail_delivered_twice_makes_one_ticket(dovecot, make_mailbox):
    user = dovecot.add_user()
    mail = make_mail("Twice", message_id="<twice@example.com>")
    dovecot.append(user, mail, mail)
    mailbox = make_mailbox(user)

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert result.taken == 2 and result.failed == 0
    assert Ticket.objects.count() == 1
    assert InboundMessage.objects.get().deliveries == 2
    assert dovecot.contents(user) == [("Twice", {SEEN}), ("Twice", {SEEN})]


def test_a_mail_marked_unseen_again_is_not_taken_twice(dovecot, make_mailbox):
    user = dovecot.add_user()
    dovecot.append(user, make_mail("Once", message_id="<once@example.com>"))
    mailbox = make_mailbox(user)
    fetch.mailbox_fetch(mailbox=mailbox)
    with dovecot.client(user) as box:
        box.flag(box.uids("ALL"), SEEN, False)
    assert dovecot.contents(user) == [("Once", set())]

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert result.taken == 1
    assert Ticket.objects.count() == 1
    assert InboundMessage.objects.get().deliveries == 2
    assert dovecot.contents(user) == [("Once", {SEEN})]


# --- breakage -----------------------------------------------------------------------------


def test_connection_cut_mid_download_loses_nothing_and_the_next_fetch_finishes(
    dovecot, make_mailbox, proxies
):
    user = dovecot.add_user()
    dovecot.append(
        user,
        make_mail("First"),
        make_mail("Second, large", body="line of text\n" * 30_000),  # ~400 KB
        make_mail("Third"),
    )
    # The first mail and the protocol around it are a few KB: 100 KB in, the stream is in
    # the middle of the second mail.
    proxy = proxies(dovecot.imap_port, cut_after=100_000)
    mailbox = make_mailbox(user, security=Mailbox.Security.PLAIN, port=proxy.port)

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert "connection" in result.error and "lost" in result.error
    assert result.taken == 1
    assert list(InboundMessage.objects.values_list("subject", flat=True)) == ["First"]
    assert dovecot.contents(user) == [
        ("First", {SEEN}),
        ("Second, large", set()),
        ("Third", set()),
    ]
    mailbox.refresh_from_db()
    assert mailbox.last_error == result.error

    mailbox.port = dovecot.imap_port
    mailbox.save()
    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert (result.taken, result.error) == (2, "")
    assert Ticket.objects.count() == 3
    assert all(flags == {SEEN} for _subject, flags in dovecot.contents(user))
    mailbox.refresh_from_db()
    assert mailbox.last_error == ""
    assert mailbox.last_error_at is None


@pytest.mark.parametrize("after_fetch", list(Mailbox.AfterFetch))
def test_connection_cut_after_a_mail_is_stored_the_next_fetch_finishes_it_once(
    dovecot, make_mailbox, proxies, monkeypatch, after_fetch
):
    user = dovecot.add_user()
    dovecot.append(user, *(make_mail(f"Mail {n}") for n in (1, 2, 3)))
    proxy = proxies(dovecot.imap_port)
    mailbox = make_mailbox(
        user,
        security=Mailbox.Security.PLAIN,
        port=proxy.port,
        after_fetch=after_fetch,
        move_to_folder="Done",
    )
    receive = ingest.message_receive

    def receive_then_cut(**kwargs):
        message = receive(**kwargs)
        if message.subject == "Mail 2":
            proxy.cut()  # stored and committed; the server never hears it was taken
        return message

    monkeypatch.setattr(ingest, "message_receive", receive_then_cut)

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert result.error
    assert (result.taken, result.failed) == (1, 1)
    assert InboundMessage.objects.count() == 2
    assert Ticket.objects.count() == 2

    monkeypatch.setattr(ingest, "message_receive", receive)
    mailbox.port = dovecot.imap_port
    mailbox.save()
    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert (result.taken, result.failed, result.error) == (2, 0, "")
    assert Ticket.objects.count() == 3
    assert InboundMessage.objects.get(subject="Mail 2").deliveries == 2
    inbox = dovecot.contents(user)
    if after_fetch == Mailbox.AfterFetch.MARK_SEEN:
        assert inbox == [(f"Mail {n}", {SEEN}) for n in (1, 2, 3)]
    else:
        assert inbox == []
    if after_fetch == Mailbox.AfterFetch.MOVE:
        assert subjects(dovecot.contents(user, "Done")) == ["Mail 1", "Mail 2", "Mail 3"]


def test_a_server_that_stops_answering_is_given_up_after_the_timeout(
    dovecot, make_mailbox, proxies, monkeypatch
):
    monkeypatch.setattr(imap, "TIMEOUT_SECONDS", 1)
    user = dovecot.add_user()
    dovecot.append(user, make_mail("Mail 1"), make_mail("Mail 2"))
    proxy = proxies(dovecot.imap_port)
    mailbox = make_mailbox(user, security=Mailbox.Security.PLAIN, port=proxy.port)
    receive = ingest.message_receive

    def receive_then_stall(**kwargs):
        message = receive(**kwargs)
        proxy.stall()
        return message

    monkeypatch.setattr(ingest, "message_receive", receive_then_stall)
    started = time.monotonic()

    result = fetch.mailbox_fetch(mailbox=mailbox)

    # One timeout (marking the first mail), not a second one for a polite LOGOUT.
    assert time.monotonic() - started < 1.9
    assert "no answer within 1 s" in result.error
    assert (result.taken, result.failed) == (0, 1)
    # Dovecot did mark the first mail; only its answer never came. The second is untouched.
    assert dovecot.contents(user) == [("Mail 1", {SEEN}), ("Mail 2", set())]
    assert InboundMessage.objects.count() == 1


def test_a_mail_ingest_cannot_store_stays_on_the_server_and_the_rest_go_on(
    dovecot, make_mailbox, monkeypatch
):
    user = dovecot.add_user()
    dovecot.append(user, *(make_mail(f"Mail {n}") for n in (1, 2, 3)))
    mailbox = make_mailbox(user)
    receive = ingest.message_receive

    def receive_failing_on_second(**kwargs):
        if b"Subject: Mail 2" in kwargs["raw"]:
            raise RuntimeError("disk full")
        return receive(**kwargs)

    monkeypatch.setattr(ingest, "message_receive", receive_failing_on_second)

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert (result.taken, result.failed, result.error) == (2, 1, "")
    assert dovecot.contents(user) == [
        ("Mail 1", {SEEN}),
        ("Mail 2", set()),
        ("Mail 3", {SEEN}),
    ]
    mailbox.refresh_from_db()
    assert "1 mail could not be taken" in mailbox.last_error
    assert "disk full" in mailbox.last_error
    assert mailbox.last_fetch_at is not None

    monkeypatch.setattr(ingest, "message_receive", receive)
    assert fetch.mailbox_fetch(mailbox=mailbox).taken == 1
    assert Ticket.objects.count() == 3
    mailbox.refresh_from_db()
    assert mailbox.last_error == ""


def test_a_mailbox_with_a_wrong_password_does_not_stop_the_others(dovecot, make_mailbox):
    broken_user, user = dovecot.add_user(), dovecot.add_user()
    dovecot.append(user, make_mail("Still fetched"))
    broken = make_mailbox(broken_user, name="A broken one", password="not-the-password")
    working = make_mailbox(user, name="B working")
    unreachable = make_mailbox(user, name="C unreachable", port=dovecot_module.free_port())
    make_mailbox(user, name="D inactive", is_active=False)
    make_mailbox(user, name="E piped", host="")

    results = fetch.fetch_all()

    assert [r.mailbox for r in results] == ["A broken one", "B working", "C unreachable"]
    assert results[1].taken == 1
    broken.refresh_from_db()
    assert f"refused the sign-in of {broken_user}" in broken.last_error
    assert "AUTHENTICATIONFAILED" in broken.last_error
    unreachable.refresh_from_db()
    assert "could not be reached" in unreachable.last_error
    working.refresh_from_db()
    assert working.last_error == ""
    assert Ticket.objects.get().title == "Still fetched"


def test_an_overlapping_fetch_of_the_same_mailbox_is_skipped(dovecot, make_mailbox):
    from django.core.cache import cache

    user = dovecot.add_user()
    dovecot.append(user, make_mail("Later"))
    mailbox = make_mailbox(user)
    cache.add(f"mail.fetch.lock:{mailbox.pk}", True, 60)
    try:
        result = fetch.mailbox_fetch(mailbox=mailbox)
        assert str(result) == "skipped: another fetch of this mailbox is running"
    finally:
        cache.delete(f"mail.fetch.lock:{mailbox.pk}")
    assert fetch.mailbox_fetch(mailbox=mailbox).taken == 1


def test_a_mailbox_without_an_imap_host_is_not_fetched(db, first_line):
    mailbox = Mailbox.objects.create(name="Piped", address="piped@helpdesk.test")

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert result.skipped and not result.error
    mailbox.refresh_from_db()
    assert (mailbox.last_fetch_at, mailbox.last_error) == (None, "")


# --- XOAUTH2 --------------------------------------------------------------------------------


@pytest.fixture
def oauth_mailbox(dovecot, provider, make_mailbox):
    """A mailbox signing in with XOAUTH2, its tokens from the test's OAuth2 provider.

    Its user is in Dovecot's passwd-file too, so that the test can put mail in with a
    password; the fetcher only ever signs in with XOAUTH2 (Dovecot's log says which)."""

    def make(user=None, **fields):
        user = user or dovecot.add_user()
        mailbox = make_mailbox(
            user,
            password="",
            auth_method=Mailbox.AuthMethod.OAUTH2,
            oauth_provider=Mailbox.OAuthProvider.CUSTOM,
            oauth_token_url=provider.token_url,
            oauth_client_id=provider.client_id,
            **fields,
        )
        mailbox.set_oauth_secret(provider.client_secret)
        mailbox.set_refresh_token(provider.issue_refresh_token(user))
        mailbox.save()
        return mailbox

    return make


def test_xoauth2_sign_in_with_a_refreshed_access_token(dovecot, provider, oauth_mailbox):
    user = dovecot.add_user()
    mailbox = oauth_mailbox(user)
    requests_before = len(provider.token_requests)

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert result.error == ""
    assert len(provider.token_requests) == requests_before + 1
    assert provider.token_requests[-1]["grant_type"] == "refresh_token"
    mailbox.refresh_from_db()
    token = mailbox.get_access_token()
    assert token in provider.access_tokens
    assert token not in mailbox.oauth_access_token_encrypted  # stored encrypted
    assert mailbox.oauth_access_token_expires_at > timezone.now() + timedelta(minutes=55)
    assert re.search(rf"Login: user=<{re.escape(user)}>, method=XOAUTH2", dovecot.log())

    # The next fetch uses the stored token: no new request to the provider.
    assert fetch.mailbox_fetch(mailbox=mailbox).error == ""
    assert len(provider.token_requests) == requests_before + 1


def test_xoauth2_fetches_mail_into_a_ticket(dovecot, oauth_mailbox):
    user = dovecot.add_user()
    dovecot.append(user, make_mail("Through OAuth2"))
    mailbox = oauth_mailbox(user)

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert (result.taken, result.error) == (1, "")
    assert Ticket.objects.get().title == "Through OAuth2"


def test_xoauth2_a_stored_token_revoked_early_is_renewed_once(dovecot, provider, oauth_mailbox):
    user = dovecot.add_user()
    mailbox = oauth_mailbox(user)
    assert fetch.mailbox_fetch(mailbox=mailbox).error == ""
    mailbox.refresh_from_db()
    del provider.access_tokens[mailbox.get_access_token()]  # revoked at the provider

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert result.error == ""
    mailbox.refresh_from_db()
    assert mailbox.get_access_token() in provider.access_tokens


def test_xoauth2_a_revoked_refresh_token_is_a_clear_error_on_the_mailbox(
    dovecot, provider, oauth_mailbox
):
    user = dovecot.add_user()
    mailbox = oauth_mailbox(user)
    provider.revoke(user)

    result = fetch.mailbox_fetch(mailbox=mailbox)

    mailbox.refresh_from_db()
    assert mailbox.last_error == result.error
    assert "refused to renew the access token (invalid_grant)" in mailbox.last_error
    assert "The refresh token has expired or was revoked" in mailbox.last_error
    assert "sign in to the mailbox's account again" in mailbox.last_error


def test_xoauth2_a_token_the_server_refuses_is_a_clear_error(dovecot, provider, oauth_mailbox):
    # The provider issues tokens for another user than the mailbox signs in as.
    mailbox = oauth_mailbox(dovecot.add_user())
    mailbox.set_refresh_token(provider.issue_refresh_token("someone-else@helpdesk.test"))
    mailbox.save()

    result = fetch.mailbox_fetch(mailbox=mailbox)

    assert f"refused the sign-in of {mailbox.username}" in result.error
    mailbox.refresh_from_db()
    assert mailbox.last_error == result.error


def test_xoauth2_an_expired_access_token_is_renewed_before_signing_in(
    dovecot, provider, oauth_mailbox
):
    user = dovecot.add_user()
    mailbox = oauth_mailbox(user)
    mailbox.set_access_token(provider.issue_access_token(user, lifetime=-10))
    mailbox.oauth_access_token_expires_at = timezone.now() + timedelta(minutes=3)
    mailbox.save()
    requests_before = len(provider.token_requests)

    assert fetch.mailbox_fetch(mailbox=mailbox).error == ""
    assert len(provider.token_requests) == requests_before + 1


# --- the command and the task ------------------------------------------------------------


def test_fetch_mail_command_prints_each_mailbox_and_fails_when_one_is_unreachable(
    dovecot, make_mailbox, capsys
):
    user = dovecot.add_user()
    dovecot.append(user, make_mail("By the command"))
    make_mailbox(user, name="Service desk")
    make_mailbox(dovecot.add_user(), name="Wrong password", password="nope")

    with pytest.raises(CommandError) as raised:
        call_command("fetch_mail")

    assert raised.value.returncode == 1
    assert "Wrong password" in str(raised.value)
    output = capsys.readouterr().out
    assert "Service desk: 1 taken, 0 quarantined, 0 failed" in output
    assert "Wrong password: 0 taken, 0 quarantined, 0 failed; error: " in output
    assert "refused the sign-in" in output


def test_fetch_mail_command_for_one_mailbox(dovecot, make_mailbox, capsys):
    user = dovecot.add_user()
    dovecot.append(user, make_mail("Only this one"))
    make_mailbox(user, name="Service desk")
    make_mailbox(dovecot.add_user(), name="Wrong password", password="nope")

    call_command("fetch_mail", mailbox="Service desk")

    assert capsys.readouterr().out.strip() == "Service desk: 1 taken, 0 quarantined, 0 failed"
    with pytest.raises(CommandError, match="No mailbox is named 'Nothing'"):
        call_command("fetch_mail", mailbox="Nothing")


def test_fetch_mailbox_task_runs_the_fetch(dovecot, make_mailbox, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    user = dovecot.add_user()
    dovecot.append(user, make_mail("By the task"))
    mailbox = make_mailbox(user)

    tasks.fetch_mailbox.delay(mailbox.pk)

    assert Ticket.objects.get().title == "By the task"
    dovecot.append(user, make_mail("By the periodic task"))
    tasks.fetch_all_mailboxes.delay()
    assert Ticket.objects.count() == 2
