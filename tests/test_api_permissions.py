"""Every role against every API endpoint: who gets what answer.

Roles: anonymous, end user, first-line agent, resolver engineer, change-board member,
manager, administrator. "Not yours" is a 404 (an end user learns nothing about other
people's tickets), "not allowed to do this" is a 403, "not possible now" is a 409.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.factories import (
    PNG,
    CategoryFactory,
    PersonFactory,
    ServiceFactory,
    SupportGroupFactory,
    make_ticket,
)

ROLES = ["anonymous", "end_user", "agent", "engineer", "change_board", "manager", "admin_user"]
WORKERS = ("agent", "engineer", "manager", "admin_user")
STAFF = (*WORKERS, "change_board")


def expect(*, end_user, staff=None, change_board=None, workers=None, admin=None, anonymous=401):
    """Expected status per role; narrower arguments override wider ones."""
    table = {"anonymous": anonymous, "end_user": end_user}
    for role in STAFF:
        table[role] = staff
    for role in WORKERS:
        if workers is not None:
            table[role] = workers
    if change_board is not None:
        table["change_board"] = change_board
    if admin is not None:
        table["admin_user"] = admin
    return table


# name: (method, path, payload or None, expected statuses)
CASES = {
    "ticket list": ("get", "/api/tickets/", None, expect(end_user=200, staff=200)),
    "ticket create for self": (
        "post",
        "/api/tickets/",
        lambda w: {"title": "Mouse broken", "caller": w["self_person"]},
        expect(end_user=201, staff=201),
    ),
    "ticket create for another caller": (
        "post",
        "/api/tickets/",
        lambda w: {"title": "Mouse broken", "caller": w["stranger"]},
        expect(end_user=400, change_board=400, workers=201),
    ),
    "ticket retrieve (someone else's)": (
        "get",
        "/api/tickets/{other}/",
        None,
        expect(end_user=404, staff=200),
    ),
    "ticket retrieve (own)": ("get", "/api/tickets/{own}/", None, expect(end_user=200, staff=200)),
    "ticket update (someone else's)": (
        "patch",
        "/api/tickets/{other}/",
        lambda w: {"version": 1, "urgency": 2},
        expect(end_user=404, change_board=403, workers=200),
    ),
    "ticket update (own)": (
        "patch",
        "/api/tickets/{own}/",
        lambda w: {"version": 1, "urgency": 2},
        expect(end_user=403, change_board=403, workers=200),
    ),
    "transition assign (someone else's)": (
        "post",
        "/api/tickets/{other}/transitions/assign/",
        lambda w: {"assignee": w["assignee"]},
        expect(end_user=404, change_board=409, workers=200),
    ),
    "transition cancel (own new ticket)": (
        "post",
        "/api/tickets/{own}/transitions/cancel/",
        lambda w: {"reason": "Works again"},
        expect(end_user=200, change_board=409, workers=200),
    ),
    "transition resolve (someone else's)": (
        "post",
        "/api/tickets/{other}/transitions/resolve/",
        lambda w: {"code": "solved", "notes": "Reset the password"},
        expect(end_user=404, change_board=409, workers=200),
    ),
    "transition start (own)": (
        "post",
        "/api/tickets/{own}/transitions/start/",
        None,
        expect(end_user=409, change_board=409, workers=200),
    ),
    "comments list (own)": (
        "get",
        "/api/tickets/{own}/comments/",
        None,
        expect(end_user=200, staff=200),
    ),
    "comments list (someone else's)": (
        "get",
        "/api/tickets/{other}/comments/",
        None,
        expect(end_user=404, staff=200),
    ),
    "comment reply (own)": (
        "post",
        "/api/tickets/{own}/comments/",
        lambda w: {"body": "Any news?"},
        # Only the caller and the people working tickets talk on a ticket.
        expect(end_user=201, change_board=403, workers=201),
    ),
    "internal note (own)": (
        "post",
        "/api/tickets/{own}/comments/",
        lambda w: {"body": "Checked the logs", "is_internal": True},
        expect(end_user=400, change_board=400, workers=201),
    ),
    "attachments list (someone else's)": (
        "get",
        "/api/tickets/{other}/attachments/",
        None,
        expect(end_user=404, staff=200),
    ),
    "attachment upload (own)": (
        "multipart",
        "/api/tickets/{own}/attachments/",
        lambda w: {"file": SimpleUploadedFile("screen.png", PNG)},
        expect(end_user=201, change_board=403, workers=201),
    ),
    "attachment upload (someone else's)": (
        "multipart",
        "/api/tickets/{other}/attachments/",
        lambda w: {"file": SimpleUploadedFile("screen.png", PNG)},
        expect(end_user=404, change_board=403, workers=201),
    ),
    "timeline (someone else's)": (
        "get",
        "/api/tickets/{other}/timeline/",
        None,
        expect(end_user=404, staff=200),
    ),
    "timeline (own)": (
        "get",
        "/api/tickets/{own}/timeline/",
        None,
        expect(end_user=200, staff=200),
    ),
    "people list": ("get", "/api/people/", None, expect(end_user=403, staff=200)),
    "people phone lookup": (
        "get",
        "/api/people/?phone=%2B48225550123",
        None,
        expect(end_user=403, staff=200),
    ),
    "person retrieve": ("get", "/api/people/{stranger}/", None, expect(end_user=403, staff=200)),
    "groups list": ("get", "/api/groups/", None, expect(end_user=200, staff=200)),
    "group create": (
        "post",
        "/api/groups/",
        lambda w: {"name": "Access", "code": "access", "tier": 2},
        expect(end_user=403, staff=403, admin=201),
    ),
    "group update": (
        "patch",
        "/api/groups/{group}/",
        lambda w: {"email": "sd@example.com"},
        expect(end_user=403, staff=403, admin=200),
    ),
    "group delete": (
        "delete",
        "/api/groups/{spare_group}/",
        None,
        expect(end_user=403, staff=403, admin=204),
    ),
    "services list": ("get", "/api/services/", None, expect(end_user=200, staff=200)),
    "service retrieve": ("get", "/api/services/{service}/", None, expect(end_user=200, staff=200)),
    "service create": (
        "post",
        "/api/services/",
        lambda w: {"name": "Printing", "owner_group": w["group"]},
        expect(end_user=403, staff=403, admin=201),
    ),
    "service update": (
        "patch",
        "/api/services/{service}/",
        lambda w: {"criticality": "critical"},
        expect(end_user=403, staff=403, admin=200),
    ),
    "service delete": (
        "delete",
        "/api/services/{service}/",
        None,
        expect(end_user=403, staff=403, admin=204),
    ),
    "categories list": ("get", "/api/categories/", None, expect(end_user=200, staff=200)),
    "category create": (
        "post",
        "/api/categories/",
        lambda w: {"name": "Printers"},
        expect(end_user=403, staff=403, admin=201),
    ),
    "category update": (
        "patch",
        "/api/categories/{category}/",
        lambda w: {"name": "Peripherals"},
        expect(end_user=403, staff=403, admin=200),
    ),
    "category delete": (
        "delete",
        "/api/categories/{category}/",
        None,
        expect(end_user=403, staff=403, admin=204),
    ),
}


@pytest.fixture
def world(db, request, end_user, first_line):
    """What every case needs; the acting user is created only for the role under test."""
    stranger = PersonFactory(full_name="Stranger")
    own = make_ticket(caller=end_user.person, opened_by=end_user, title="My VPN")
    other = make_ticket(caller=stranger, title="Not yours")
    assignee = request.getfixturevalue("agent")
    return {
        "own": own.number,
        "other": other.number,
        "stranger": stranger.pk,
        "assignee": assignee.pk,
        "group": first_line.pk,
        "service": ServiceFactory(owner_group=first_line).pk,
        "category": CategoryFactory().pk,
        "spare_group": SupportGroupFactory(code="spare", name="Spare").pk,
    }


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(request, world, role, case):
    method, path, payload, expected = CASES[case]
    client = APIClient()
    user = None
    if role != "anonymous":
        user = request.getfixturevalue(role)
        client.force_login(user)
    world = {**world, "self_person": getattr(getattr(user, "person", None), "pk", None)}
    path = path.format(**world)
    data = payload(world) if payload else None
    if method == "multipart":
        response = client.post(path, data, format="multipart")
    else:
        response = getattr(client, method)(path, data, format="json")
    assert response.status_code == expected[role], (role, case, response.content[:300])
