"""Files on changes (upload on the page and through the API, the ticket uploads' limits,
downloads only for those who see the change) and linking tickets and changes by hand."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from changes import services
from changes.models import ChangeAttachment, ChangeTimelineEntry
from helpdesk.errors import PermissionDenied, ValidationError
from tests.changes.conftest import make_change
from tests.factories import PNG, make_ticket

pytestmark = pytest.mark.django_db

Kind = ChangeTimelineEntry.Kind
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


@pytest.fixture
def change(agent, end_user):
    return make_change(requester=end_user.person, by=agent)


def _png(name="diagram.png"):
    return SimpleUploadedFile(name, PNG, content_type="image/png")


# --- attachments: the service ------------------------------------------------------------------


def test_the_requester_adds_a_file_and_the_timeline_says_so(change, end_user):
    attachment = services.change_attachment_add(change=change, by=end_user, upload=_png())
    assert (attachment.original_name, attachment.content_type) == ("diagram.png", "image/png")
    assert attachment.size == len(PNG)
    assert attachment.file.name.startswith("change-attachments/")
    assert "diagram" not in attachment.file.name  # stored under a generated name
    entry = change.timeline.get(kind=Kind.ATTACHMENT)
    assert (entry.actor, entry.new_value) == (end_user, "diagram.png")


def test_a_file_of_a_refused_type_or_over_the_limit_is_refused(change, agent, settings):
    with pytest.raises(ValidationError) as refused:
        services.change_attachment_add(
            change=change, by=agent, upload=SimpleUploadedFile("setup.png", EXE)
        )
    assert "not accepted" in str(refused.value)
    settings.ATTACHMENT_MAX_BYTES = 10
    with pytest.raises(ValidationError) as too_large:
        services.change_attachment_add(change=change, by=agent, upload=_png())
    assert "too large" in str(too_large.value)
    assert not ChangeAttachment.objects.exists()
    assert not change.timeline.filter(kind=Kind.ATTACHMENT).exists()


def test_someone_who_may_not_see_the_change_adds_no_file(change, other_end_user):
    with pytest.raises(PermissionDenied):
        services.change_attachment_add(change=change, by=other_end_user, upload=_png())


# --- attachments: the pages -------------------------------------------------------------------


def test_upload_on_the_page_lists_the_file_and_downloads_it(client, change, end_user):
    client.force_login(end_user)
    response = client.post(
        reverse("changes:attachment_upload", args=[change.number]), {"file": _png()}
    )
    assert response.status_code == 302
    attachment = ChangeAttachment.objects.get()
    page = client.get(reverse("changes:detail", args=[change.number])).content.decode()
    assert "diagram.png" in page
    assert attachment.get_absolute_url() in page
    download = client.get(attachment.get_absolute_url())
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"


def test_a_refused_upload_is_shown_beside_the_field(client, change, agent):
    client.force_login(agent)
    response = client.post(
        reverse("changes:attachment_upload", args=[change.number]),
        {"file": SimpleUploadedFile("setup.png", EXE)},
    )
    assert response.status_code == 400
    assert "Files of this type are not accepted" in response.content.decode()
    assert not ChangeAttachment.objects.exists()


def test_a_file_of_a_change_one_may_not_see_is_a_404(client, change, agent, other_end_user):
    attachment = services.change_attachment_add(change=change, by=agent, upload=_png())
    client.force_login(other_end_user)
    assert client.get(attachment.get_absolute_url()).status_code == 404
    other = make_change(requester=other_end_user.person, by=agent, title="Other")
    # The file's id under another change's number (one the user may see) is a 404 too.
    url = reverse("changes:attachment", args=[other.number, attachment.pk])
    assert client.get(url).status_code == 404


# --- attachments: the API ---------------------------------------------------------------------


def test_the_api_uploads_and_lists_files(api, change, end_user, other_end_user):
    api.force_authenticate(end_user)
    url = f"/api/changes/{change.number}/attachments/"
    created = api.post(url, {"file": _png("plan.png")}, format="multipart")
    assert created.status_code == 201, created.content
    assert created.data["name"] == "plan.png"
    assert created.data["download_url"].endswith(
        reverse("changes:attachment", args=[change.number, created.data["id"]])
    )
    listed = api.get(url)
    assert [row["name"] for row in listed.data["results"]] == ["plan.png"]
    refused = api.post(url, {"file": SimpleUploadedFile("x.png", EXE)}, format="multipart")
    assert refused.status_code == 400
    assert "file" in refused.data
    api.force_authenticate(other_end_user)
    assert api.get(url).status_code == 404
    assert api.post(url, {"file": _png()}, format="multipart").status_code == 404


# --- links ---------------------------------------------------------------------------------


def test_an_agent_links_and_unlinks_a_ticket_on_the_page(client, change, agent, end_user):
    ticket = make_ticket(caller=end_user.person, title="Mail bounces since the upgrade")
    client.force_login(agent)
    response = client.post(
        reverse("changes:link", args=[change.number]), {"number": ticket.number.lower()}
    )
    assert response.status_code == 302
    assert list(change.tickets.all()) == [ticket]
    page = client.get(reverse("changes:detail", args=[change.number])).content.decode()
    assert f'data-linked="{ticket.number}"' in page
    assert f"Linked {ticket.number}" in page
    response = client.post(
        reverse("changes:unlink", args=[change.number]), {"number": ticket.number}
    )
    assert response.status_code == 302
    assert not change.tickets.exists()
    entries = list(change.timeline.filter(field="tickets").values_list("kind", "actor"))
    assert entries == [(Kind.LINK, agent.pk), (Kind.UNLINK, agent.pk)]
    page = client.get(reverse("changes:detail", args=[change.number])).content.decode()
    assert f"Unlinked {ticket.number}" in page


def test_an_agent_links_two_changes_both_ways(client, change, agent, end_user):
    other = make_change(requester=end_user.person, by=agent, title="Back out the upgrade")
    client.force_login(agent)
    client.post(reverse("changes:link", args=[change.number]), {"number": other.number})
    assert list(change.related_changes.all()) == [other]
    assert list(other.related_changes.all()) == [change]
    assert other.timeline.filter(kind=Kind.LINK, new_value=change.number).exists()
    client.post(reverse("changes:unlink", args=[other.number]), {"number": change.number})
    assert not change.related_changes.exists()
    assert change.timeline.filter(kind=Kind.UNLINK, old_value=other.number).exists()


def test_a_change_is_not_linked_to_itself_nor_to_an_unknown_number(client, change, agent):
    client.force_login(agent)
    url = reverse("changes:link", args=[change.number])
    response = client.post(url, {"number": change.number})
    assert response.status_code == 400
    assert "cannot be linked to itself" in response.content.decode()
    response = client.post(url, {"number": "INC-999999"})
    assert response.status_code == 400
    assert "There is no ticket or change with this number." in response.content.decode()


def test_the_requester_may_not_link(client, change, end_user):
    ticket = make_ticket(caller=end_user.person)
    client.force_login(end_user)
    response = client.post(reverse("changes:link", args=[change.number]), {"number": ticket.number})
    assert response.status_code == 403
    assert not change.tickets.exists()
    page = client.get(reverse("changes:detail", args=[change.number])).content.decode()
    assert 'data-testid="link-form"' not in page
    with pytest.raises(PermissionDenied):
        services.change_link_change(change=change, other=change, by=end_user)
