"""Change approvals by mail (issue 16): the approvers' mail through a real SMTP receiver,
their replies back through the ingest service (as the pipe and the IMAP fetcher deliver
them), votes through ``changes.services.vote_cast``, answers and the requester's mail."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from changes import services as change_services
from changes.models import ChangeTimelineEntry, ChangeType, Quorum, State, Vote
from helpdesk.roles import Role
from mail.models import InboundMessage, Mailbox, OutboundMessage
from mail.services import ingest
from tests.changes.conftest import add_rule, make_change, to_awaiting_approval
from tests.factories import PersonFactory, ServiceFactory, SiteFactory, make_user
from tests.mail.builders import HELPDESK, mail, make_id
from tests.mail.smtp import eager_celery, smtp  # noqa: F401 (fixtures)
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

Kind = OutboundMessage.Kind
Outcome = InboundMessage.Outcome


@pytest.fixture
def mailbox(db):
    return Mailbox.objects.create(name="Service desk", address=HELPDESK)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def wired(smtp, eager_celery, mailbox):  # noqa: F811
    return smtp


@pytest.fixture
def cab(db):
    return [make_user(Role.CHANGE_BOARD, username=f"cab{n}") for n in (1, 2)]


@pytest.fixture
def requester(db):
    return PersonFactory(full_name="Rita Requester", email="rita@example.com", language="en")


def _change(agent, requester, quorum=Quorum.ANY, committed=None):
    add_rule(ChangeType.NORMAL, steps=[{"change_board": True, "quorum": quorum, "name": "CAB"}])
    change = make_change(
        requester=requester,
        by=agent,
        title="Move the mail server to the new rack",
        estimated_cost=Decimal("1234.50"),
    )
    change.services.set([ServiceFactory(name="E-mail")])
    change.sites.set([SiteFactory(code="waw", name="Warsaw HQ")])
    with committed():
        return to_awaiting_approval(change, agent)


def _reply(received, *, sender, body, subject=None, in_reply_to=True, headers=None) -> bytes:
    return mail(
        subject if subject is not None else "Re: " + received.message["Subject"],
        sender=sender,
        body=body,
        in_reply_to=received.message["Message-ID"] if in_reply_to else "",
        references=received.message["Message-ID"] if in_reply_to else "",
        headers=headers,
    )


def _deliver(mailbox, raw, committed):
    with committed():
        return ingest.message_receive(mailbox=mailbox, raw=raw, source=InboundMessage.Source.PIPE)


def test_each_approver_gets_the_summary_in_their_language_and_approves_by_reply(
    wired, committed, agent, cab, requester, mailbox
):
    cab[1].person.language = "pl"
    cab[1].person.save(update_fields=["language"])
    change = _change(agent, requester, committed=committed)
    [first] = wired.to(cab[0].email)
    [second] = wired.to(cab[1].email)
    subject = first.message["Subject"]
    assert subject.startswith(f"[{change.number} #")
    assert "Move the mail server to the new rack" in subject
    assert first.message["Auto-Submitted"] == "auto-generated"
    assert second.message["Content-Language"] == "pl"
    assert first.message["Content-Language"] == "en"
    # Each approver's tag is signed for them: the two subjects differ.
    assert second.message["Subject"].split("]")[0] != subject.split("]")[0]
    for text in (first.text, first.html):
        assert change.number in text
        assert "1234.50" in text
        assert "Warsaw HQ" in text and "E-mail" in text
        assert "approve" in text and "reject" in text
    assert "Conflicts: none" in first.text
    assert "Risk: Low" in first.text

    # The mail client shortened the subject: the reply still finds the approval mail by
    # its In-Reply-To.
    inbound = _deliver(
        mailbox,
        _reply(
            first,
            sender=f"CAB One <{cab[0].email}>",
            subject="Re: approval",
            body="Approve\nThe back-out plan is fine.\n\nOn Monday someone wrote:\n> old text\n",
        ),
        committed,
    )
    assert inbound.outcome == Outcome.CHANGE_VOTED
    assert inbound.ticket is None
    change.refresh_from_db()
    assert change.state == State.APPROVED
    vote = Vote.objects.get(voter=cab[0])
    assert (vote.decision, vote.comment) == (Vote.Decision.APPROVE, "The back-out plan is fine.")
    assert ChangeTimelineEntry.objects.filter(
        change=change, kind=ChangeTimelineEntry.Kind.VOTE, actor=cab[0]
    ).exists()
    [answer] = [m for m in wired.to(cab[0].email) if m is not first]
    assert answer.message["Subject"] == f"Your vote on {change.number} was recorded"
    assert answer.message["Auto-Submitted"] == "auto-replied"
    assert answer.message["In-Reply-To"].strip("<>") == inbound.message_id.strip("<>")
    assert "Approved" in answer.text
    # The requester hears of the decision with the reasons.
    [decided] = wired.to(requester.email)
    assert decided.message["Subject"] == (
        f"Change {change.number} approved: Move the mail server to the new rack"
    )
    assert "The back-out plan is fine." in decided.text
    assert Ticket.objects.count() == 0


def test_a_rejection_without_a_reason_is_refused_with_an_answer_then_taken_with_one(
    wired, committed, agent, cab, requester, mailbox
):
    change = _change(agent, requester, quorum=Quorum.ALL, committed=committed)
    [approval] = wired.to(cab[0].email)
    inbound = _deliver(mailbox, _reply(approval, sender=cab[0].email, body="reject\n"), committed)
    assert inbound.outcome == Outcome.CHANGE_VOTE_REFUSED
    assert "Give the reason for the rejection." in inbound.detail
    assert not Vote.objects.exists()
    [answer] = [m for m in wired.to(cab[0].email) if m is not approval]
    assert answer.message["Subject"] == f"Your vote on {change.number} was not recorded"
    assert "Give the reason for the rejection." in answer.text

    inbound = _deliver(
        mailbox,
        _reply(approval, sender=cab[0].email, body="Reject: not before the audit\nNo window."),
        committed,
    )
    assert inbound.outcome == Outcome.CHANGE_VOTED
    change.refresh_from_db()
    assert change.state == State.REJECTED
    assert Vote.objects.get().comment == "not before the audit\nNo window."
    [decided] = wired.to(requester.email)
    assert decided.message["Subject"].startswith(f"Change {change.number} rejected: ")
    assert "not before the audit" in decided.text and "not before the audit" in decided.html


def test_a_vote_after_the_step_completed_is_refused(
    wired, committed, agent, cab, requester, mailbox
):
    change = _change(agent, requester, committed=committed)
    [first] = wired.to(cab[0].email)
    [second] = wired.to(cab[1].email)
    _deliver(mailbox, _reply(first, sender=cab[0].email, body="approve"), committed)
    inbound = _deliver(
        mailbox, _reply(second, sender=cab[1].email, body="reject\ntoo late?"), committed
    )
    assert inbound.outcome == Outcome.CHANGE_VOTE_REFUSED
    change.refresh_from_db()
    assert change.state == State.APPROVED
    assert list(Vote.objects.values_list("voter", flat=True)) == [cab[0].pk]
    [answer] = [m for m in wired.to(cab[1].email) if m is not second]
    assert "The vote on this change is over" in answer.text


def test_a_strangers_reply_is_refused_logged_and_not_answered(
    wired, committed, agent, cab, requester, mailbox, caplog
):
    change = _change(agent, requester, committed=committed)
    [approval] = wired.to(cab[0].email)
    before = len(wired.messages)
    with caplog.at_level(logging.WARNING):
        inbound = _deliver(
            mailbox,
            _reply(approval, sender="mallory@evil.example", body="approve", in_reply_to=False),
            committed,
        )
    assert inbound.outcome == Outcome.CHANGE_VOTE_REFUSED
    assert inbound.ticket is None
    assert not Vote.objects.exists()
    assert len(wired.messages) == before  # nothing sent to a forged or unknown address
    assert "mallory@evil.example" in caplog.text
    change.refresh_from_db()
    assert change.state == State.AWAITING_APPROVAL


def test_an_approver_replying_with_anothers_reference_is_refused(
    wired, committed, agent, cab, requester, mailbox
):
    _change(agent, requester, committed=committed)
    [for_first] = wired.to(cab[0].email)
    # The first approver forwarded their mail; the second answers it from their address.
    inbound = _deliver(mailbox, _reply(for_first, sender=cab[1].email, body="approve"), committed)
    assert inbound.outcome == Outcome.CHANGE_VOTE_REFUSED
    assert not Vote.objects.exists()
    answers = [m for m in wired.to(cab[1].email) if "not recorded" in m.message["Subject"]]
    assert len(answers) == 1
    assert "only the approver it was sent to can vote" in answers[0].text


def test_an_approver_known_only_by_their_login_address_votes_by_reply(
    wired, committed, agent, cab, requester, mailbox
):
    cab[0].person.email = ""
    cab[0].person.save(update_fields=["email"])
    change = _change(agent, requester, committed=committed)
    [approval] = wired.to(cab[0].email)  # the login's address
    inbound = _deliver(mailbox, _reply(approval, sender=cab[0].email, body="approve"), committed)
    assert inbound.outcome == Outcome.CHANGE_VOTED
    change.refresh_from_db()
    assert change.state == State.APPROVED
    assert len(wired.to(cab[0].email)) == 2  # the approval mail and the answer


def test_a_reply_whose_first_line_is_no_decision_is_answered(
    wired, committed, agent, cab, requester, mailbox
):
    _change(agent, requester, committed=committed)
    [approval] = wired.to(cab[0].email)
    inbound = _deliver(
        mailbox, _reply(approval, sender=cab[0].email, body="Looks fine to me"), committed
    )
    assert inbound.outcome == Outcome.CHANGE_VOTE_REFUSED
    [answer] = [m for m in wired.to(cab[0].email) if m is not approval]
    assert "The first line of your reply must be" in answer.text


def test_an_out_of_office_answer_neither_votes_nor_is_answered(
    wired, committed, agent, cab, requester, mailbox
):
    _change(agent, requester, committed=committed)
    [approval] = wired.to(cab[0].email)
    before = len(wired.messages)
    inbound = _deliver(
        mailbox,
        _reply(
            approval,
            sender=cab[0].email,
            body="approve\nI am out of the office until Monday.",
            headers={"Auto-Submitted": "auto-replied"},
        ),
        committed,
    )
    assert inbound.status == InboundMessage.Status.IGNORED
    assert not Vote.objects.exists()
    assert len(wired.messages) == before


def test_the_same_reply_delivered_twice_votes_once(
    wired, committed, agent, cab, requester, mailbox
):
    _change(agent, requester, quorum=Quorum.ALL, committed=committed)
    [approval] = wired.to(cab[0].email)
    raw = mail(
        "Re: " + approval.message["Subject"],
        sender=cab[0].email,
        body="approve",
        message_id=make_id(),
        in_reply_to=approval.message["Message-ID"],
    )
    _deliver(mailbox, raw, committed)
    _deliver(mailbox, raw, committed)
    assert Vote.objects.count() == 1
    assert len([m for m in wired.to(cab[0].email) if m is not approval]) == 1


def test_the_next_step_opens_and_its_approvers_are_mailed(
    wired, committed, agent, cab, requester, mailbox
):
    manager = make_user(Role.MANAGER, username="boss")
    add_rule(
        ChangeType.NORMAL,
        steps=[
            {"change_board": True, "quorum": Quorum.ANY, "name": "CAB"},
            {"users": [manager], "quorum": Quorum.ALL, "name": "Budget"},
        ],
    )
    change = make_change(requester=requester, by=agent)
    with committed():
        change = to_awaiting_approval(change, agent)
    assert wired.to(manager.email) == []
    with committed():
        change_services.vote_cast(change=change, by=cab[0], decision=Vote.Decision.APPROVE)
    [budget] = wired.to(manager.email)
    assert "Budget" in budget.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("approve", ("approve", "")),
        ("  Approved.\nGo ahead", ("approve", "Go ahead")),
        ("REJECT - too risky", ("reject", "too risky")),
        ("odrzucam\nza duże ryzyko", ("reject", "za duże ryzyko")),
        ("Zatwierdzam", ("approve", "")),
        ("I approve", ("", "")),
        ("", ("", "")),
    ],
)
def test_the_first_line_decides(text, expected):
    assert change_services.parse_vote_text(text) == expected
