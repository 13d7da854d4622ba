"""Attachments: size limit, type told from the content, generated names, guarded downloads.

Real files come from the e-mail corpus in /work/shared/corpus/email (Zammad's test mails).
"""

import email
import email.policy
import functools
import hashlib
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk.errors import PermissionDenied, ValidationError
from tests.factories import make_ticket
from tickets import selectors, services
from tickets.models import Attachment, TimelineEntry
from tickets.uploads import detect_content_type

CORPUS = Path("/work/shared/corpus/email")

# A minimal Windows executable header (the "MZ" DOS stub and PE offset).
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


@functools.cache
def corpus_file(box: str, filename: str) -> bytes:
    path = CORPUS / box
    if not path.exists():
        pytest.skip(f"corpus file {path} not available")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    for part in message.walk():
        if part.get_filename() == filename:
            return part.get_payload(decode=True)
    raise LookupError(filename)


def png():
    return corpus_file("mail102.box", "Screen Shot 2018-12-17 at 09.00.38.png")


def pdf():
    return corpus_file("mail086.box", "test.pdf")


def upload(name, content):
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


@pytest.fixture
def ticket(db, end_user):
    return make_ticket(caller=end_user.person)


def _stored_files(settings):
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- what is accepted ---


@pytest.mark.django_db
def test_real_png_is_accepted_and_stored_under_a_generated_name(ticket, agent, settings):
    content = png()
    attachment = services.attachment_add(
        ticket=ticket, by=agent, upload=upload("Screen Shot 2018-12-17 at 09.00.38.png", content)
    )
    assert attachment.content_type == "image/png"
    assert attachment.size == len(content)
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()
    assert attachment.original_name == "Screen Shot 2018-12-17 at 09.00.38.png"
    assert re.fullmatch(r"attachments/\d{4}/\d{2}/[0-9a-f]{32}\.png", attachment.file.name)
    with attachment.file.open("rb") as stored:
        assert stored.read() == content
    assert [p.name for p in _stored_files(settings)] == [Path(attachment.file.name).name]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("box", "filename", "content_type"),
    [
        ("mail086.box", "test.pdf", "application/pdf"),
        ("mail028.box", "Lebenslauf.pdf", "application/pdf"),
        ("mail088.box", "super-seven.jpg", "image/jpeg"),
        ("mail024.box", "rulesets-report.csv", "text/csv"),
        ("mail081.box", "Erklärung.txt", "text/plain"),
    ],
)
def test_real_files_from_mail_are_accepted_with_their_real_type(
    ticket, agent, box, filename, content_type
):
    content = corpus_file(box, filename)
    attachment = services.attachment_add(ticket=ticket, by=agent, upload=upload(filename, content))
    assert attachment.content_type == content_type
    assert attachment.original_name == filename
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()


@pytest.mark.django_db
def test_type_comes_from_content_not_name(ticket, agent):
    attachment = services.attachment_add(
        ticket=ticket, by=agent, upload=upload("screenshot.txt", png())
    )
    assert attachment.content_type == "image/png"
    assert attachment.file.name.endswith(".png")
    assert attachment.original_name == "screenshot.txt"


# --- what is refused ---


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("invoice.pdf", EXE),  # an .exe renamed to .pdf
        ("photo.png", EXE),
        ("readme.txt", b"\x7fELF\x02\x01\x01" + b"\x00" * 100),
        ("notes.txt", b"<!DOCTYPE html><html><script>alert(1)</script></html>"),
        ("logo.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'),
        ("page.txt", b"Hello <script>document.cookie</script>"),
        ("data.bin", bytes(range(256)) * 4),
    ],
)
def test_disguised_or_dangerous_content_is_refused(ticket, agent, settings, name, content):
    with pytest.raises(ValidationError) as error:
        services.attachment_add(ticket=ticket, by=agent, upload=upload(name, content))
    assert "file" in error.value.message_dict
    assert "not accepted" in error.value.message_dict["file"][0]
    assert not Attachment.objects.exists()
    assert _stored_files(settings) == []
    assert not ticket.timeline.filter(kind=TimelineEntry.Kind.ATTACHMENT).exists()


@pytest.mark.django_db
def test_attachment_that_only_claims_to_be_a_pdf_is_refused(ticket, agent):
    # In this mail the part named "Znuny GmbH .pdf" holds bytes that are no PDF at all.
    content = corpus_file("mail028.box", "Znuny GmbH .pdf")
    assert not content.startswith(b"%PDF")
    with pytest.raises(ValidationError):
        services.attachment_add(ticket=ticket, by=agent, upload=upload("Znuny GmbH .pdf", content))


@pytest.mark.django_db
def test_legacy_office_file_is_not_on_the_allow_list(ticket, agent):
    content = corpus_file("mail015.box", next(iter(_names("mail015.box"))))
    assert detect_content_type(content[:8192], "report.xls") == "application/vnd.ms-excel"
    with pytest.raises(ValidationError):
        services.attachment_add(ticket=ticket, by=agent, upload=upload("report.xls", content))


def _names(box):
    message = email.message_from_bytes((CORPUS / box).read_bytes(), policy=email.policy.default)
    return [part.get_filename() for part in message.walk() if part.get_filename()]


@pytest.mark.django_db
def test_file_over_the_size_limit_is_refused(ticket, agent, settings):
    settings.ATTACHMENT_MAX_BYTES = 100 * 1024
    content = png()
    assert len(content) > settings.ATTACHMENT_MAX_BYTES
    with pytest.raises(ValidationError) as error:
        services.attachment_add(ticket=ticket, by=agent, upload=upload("big.png", content))
    assert "too large" in error.value.message_dict["file"][0]
    assert not Attachment.objects.exists()
    # Exactly at the limit is fine.
    settings.ATTACHMENT_MAX_BYTES = len(content)
    services.attachment_add(ticket=ticket, by=agent, upload=upload("big.png", content))


@pytest.mark.django_db
def test_empty_file_is_refused(ticket, agent):
    with pytest.raises(ValidationError) as error:
        services.attachment_add(ticket=ticket, by=agent, upload=upload("empty.txt", b""))
    assert "empty" in error.value.message_dict["file"][0]


@pytest.mark.django_db
def test_allow_list_is_configurable(ticket, agent, settings):
    settings.ATTACHMENT_ALLOWED_TYPES = ["application/pdf"]
    with pytest.raises(ValidationError):
        services.attachment_add(ticket=ticket, by=agent, upload=upload("s.png", png()))
    services.attachment_add(ticket=ticket, by=agent, upload=upload("t.pdf", pdf()))


@pytest.mark.django_db
def test_uploaders_path_never_reaches_the_file_system(ticket, agent, settings):
    attachment = services.attachment_add(
        ticket=ticket, by=agent, upload=upload("../../../etc/cron.d/evil.png", png())
    )
    assert "/" not in attachment.original_name
    assert "evil" not in attachment.file.name
    stored = _stored_files(settings)
    assert len(stored) == 1
    assert Path(settings.MEDIA_ROOT) in stored[0].parents


# --- who may add, timeline ---


@pytest.mark.django_db
def test_adding_an_attachment_is_in_the_timeline(ticket, end_user):
    attachment = services.attachment_add(ticket=ticket, by=end_user, upload=upload("s.png", png()))
    entry = ticket.timeline.get(kind=TimelineEntry.Kind.ATTACHMENT)
    assert (entry.actor, entry.new_value, entry.is_internal) == (end_user, "s.png", False)
    assert attachment.uploaded_by == end_user


@pytest.mark.django_db
def test_end_user_cannot_add_internal_or_to_someone_elses_ticket(ticket, end_user, other_end_user):
    with pytest.raises(PermissionDenied):
        services.attachment_add(
            ticket=ticket, by=end_user, upload=upload("s.png", png()), is_internal=True
        )
    with pytest.raises(PermissionDenied):
        services.attachment_add(ticket=ticket, by=other_end_user, upload=upload("s.png", png()))
    assert not Attachment.objects.exists()


@pytest.mark.django_db
def test_attachment_of_an_internal_note_is_internal(ticket, agent, end_user):
    note = services.comment_add(
        ticket=ticket,
        by=agent,
        body="Switch config attached",
        is_internal=True,
        attachments=[upload("config.txt", b"interface Gi0/12\n shutdown\n")],
    )
    attachment = note.attachments.get()
    assert attachment.is_internal
    assert list(selectors.attachments_for(end_user, ticket)) == []
    assert list(selectors.attachments_for(agent, ticket)) == [attachment]


@pytest.mark.django_db
def test_ticket_created_with_attachments_keeps_them(end_user):
    ticket = make_ticket(
        caller=end_user.person, opened_by=end_user, attachments=[upload("error.png", png())]
    )
    assert ticket.attachments.get().content_type == "image/png"


@pytest.mark.django_db
def test_refused_attachment_on_create_creates_no_ticket(end_user):
    from tickets.models import Ticket

    with pytest.raises(ValidationError):
        make_ticket(caller=end_user.person, attachments=[upload("invoice.pdf", EXE)])
    assert not Ticket.objects.exists()


# --- download ----------------------------------------------------------------------------------


@pytest.fixture
def public_and_internal(ticket, agent, end_user):
    public = services.attachment_add(ticket=ticket, by=end_user, upload=upload("err.png", png()))
    internal = services.attachment_add(
        ticket=ticket, by=agent, upload=upload("trace.pdf", pdf()), is_internal=True
    )
    return public, internal


def _download(client, user, attachment):
    if user is not None:
        client.force_login(user)
    return client.get(reverse("tickets:attachment", kwargs={"pk": attachment.pk}))


@pytest.mark.django_db
def test_download_is_an_attachment_with_nosniff(client, agent, public_and_internal):
    public, _internal = public_and_internal
    response = _download(client, agent, public)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="err.png"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == png()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("user", "public_status", "internal_status"),
    [
        ("end_user", 200, 404),  # the caller: never an internal attachment
        ("other_end_user", 404, 404),  # not their ticket: as if it did not exist
        ("agent", 200, 200),
        ("engineer", 200, 200),
        ("manager", 200, 200),
        ("change_board", 200, 200),
    ],
)
def test_download_only_for_those_who_may_see_it(
    request, client, public_and_internal, user, public_status, internal_status
):
    public, internal = public_and_internal
    user = request.getfixturevalue(user)
    assert _download(client, user, public).status_code == public_status
    assert _download(client, user, internal).status_code == internal_status


@pytest.mark.django_db
def test_anonymous_download_goes_to_login(client, public_and_internal):
    public, _internal = public_and_internal
    response = _download(client, None, public)
    assert response.status_code == 302
    assert "login" in response["Location"]


@pytest.mark.django_db
def test_missing_attachment_is_404(client, agent):
    client.force_login(agent)
    assert client.get(reverse("tickets:attachment", kwargs={"pk": 999})).status_code == 404


@pytest.mark.django_db
def test_attachment_whose_file_is_gone_is_404_and_logged(
    client, agent, public_and_internal, caplog
):
    public, _internal = public_and_internal
    public.file.storage.delete(public.file.name)
    with caplog.at_level("ERROR", logger="tickets.views.portal"):
        response = _download(client, agent, public)
    assert response.status_code == 404
    assert f"Attachment {public.pk}" in caplog.text
