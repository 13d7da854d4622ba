"""Change approvals by mail: the ``changes`` app's hooks, subscribed in ``MailConfig.ready``
when ``changes`` is installed (architecture point 12).

- An approval step opens (``changes.services.subscribe_approval_requests``): each approver
  gets a CHANGE_APPROVAL mail in their language with the change's summary (number, title,
  risk, cost, window, conflicts) and how to answer. Its subject carries the tag
  ``[CHG-000012 #<request>.<signature>]``, signed for that approver.
- The reply comes in through :mod:`mail.services.ingest` (stored first, as every mail) and
  is handed to :func:`on_reply` (``ingest.register_reply_handler``): the tag from the
  subject, or from the stored subject of our mail it answers (In-Reply-To / References).
  ``changes.services.vote_by_mail`` matches the sender to the approver and votes through
  the vote service. The voter gets a CHANGE_VOTE_ANSWER: the vote recorded, or why not. A
  sender the directory does not know gets no answer (a forged From would make us send
  mail to a stranger); the refusal is logged and kept on the received mail.
- The change is approved or rejected (``changes.services.subscribe_decisions``): the
  requester gets a CHANGE_DECIDED mail with the votes and their reasons.
"""

from __future__ import annotations

import dataclasses
import json
import logging

from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import translation

from changes import selectors as change_selectors
from changes import services as change_services
from changes.models import ApprovalRequest, Change, State, Vote
from mail import parsing
from mail.models import InboundMessage, OutboundMessage
from mail.services import outbound
from mail.services.notifications import person_address, user_address

logger = logging.getLogger("mail.changes")

Kind = OutboundMessage.Kind
Outcome = InboundMessage.Outcome


def _as_json(event) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(event), cls=DjangoJSONEncoder))


# --- the hooks (run after the change's commit: no query, one task) -------------------------


def on_approval_requested(event: change_services.ApprovalRequested) -> None:
    from mail import tasks

    tasks.notify_change_approval.delay(_as_json(event))


def on_change_decided(event: change_services.ChangeDecided) -> None:
    from mail import tasks

    tasks.notify_change_decision.delay(_as_json(event))


# --- the mails ----------------------------------------------------------------------------


def _summary(change: Change) -> dict:
    """What an approver reads before deciding (the same for every approver of a step)."""
    conflicts = change_selectors.change_conflicts(change)
    return {
        "change": change,
        "services": [str(service) for service in change.services.all()],
        "sites": [str(site) for site in change.sites.all()],
        "conflicting_changes": conflicts.changes,
        "freezes": conflicts.freezes,
    }


def notifications_for_change_approval(event: dict) -> list[OutboundMessage]:
    """A CHANGE_APPROVAL mail to each approver of the step, if it is still open.

    Idempotent: the anchor is the approval request (one mail per approver and step)."""
    request = (
        ApprovalRequest.objects.select_related("change", "change__requester")
        .filter(pk=event.get("request_id"), state=ApprovalRequest.State.OPEN)
        .first()
    )
    if request is None:
        return []
    change = request.change
    approvers = (
        get_user_model()
        .objects.filter(pk__in=request.approvers.values("pk"), is_active=True)
        .select_related("person", "person__user")
        .order_by("pk")
    )
    summary = _summary(change)
    drafts = []
    for user in approvers:
        address, person = user_address(user)
        if not address:
            continue
        drafts.append(
            outbound.Draft(
                kind=Kind.CHANGE_APPROVAL,
                to=address,
                person=person,
                anchor=f"r{request.pk}",
                context={
                    **summary,
                    "step": request.name,
                    "reply_tag": change_services.approval_reply_tag(
                        number=change.number, request_id=request.pk, user_id=user.pk
                    ),
                },
            )
        )
    return outbound.messages_queue(ticket=None, drafts=drafts)


def notifications_for_change_decision(event: dict) -> list[OutboundMessage]:
    """A CHANGE_DECIDED mail to the requester: approved or rejected, with every vote and its
    reason. Idempotent: the anchor is the change and its decision."""
    change = (
        Change.objects.select_related("requester", "requester__user")
        .filter(pk=event.get("change_id"), state__in=[State.APPROVED, State.REJECTED])
        .first()
    )
    if change is None:
        return []
    address = person_address(change.requester)
    if not address:
        return []
    votes = (
        Vote.objects.filter(request__change=change)
        .select_related("voter", "request")
        .order_by("request__order", "request_id", "created_at", "pk")
    )
    draft = outbound.Draft(
        kind=Kind.CHANGE_DECIDED,
        to=address,
        person=change.requester,
        anchor=f"chg{change.pk}-{change.state}",
        context={
            "change": change,
            "approved": change.state == State.APPROVED,
            "note": event.get("note", ""),
            "votes": [
                {
                    "step": vote.request.name,
                    "voter": vote.voter.get_full_name() or vote.voter.get_username(),
                    "approved": vote.decision == Vote.Decision.APPROVE,
                    "comment": vote.comment,
                    # The text mail indents the reason under its vote, every line of it.
                    "comment_indented": "\n  ".join(vote.comment.splitlines()),
                }
                for vote in votes
            ],
        },
    )
    return outbound.messages_queue(ticket=None, drafts=[draft])


# --- the replies ------------------------------------------------------------------------


def on_reply(context, tag: str) -> None:
    """A reply to an approval mail (``ingest.register_reply_handler``): vote, then answer.

    Runs in the mail's processing transaction: the vote and the answer commit with the
    mail's outcome, or not at all."""
    message = context.message
    if message.is_automatic:
        # An out-of-office answer to the approval mail: it neither votes nor is answered.
        message.status = InboundMessage.Status.IGNORED
        message.outcome = Outcome.NOT_ACTED_ON
        return
    person = context.person
    text, _quoted = parsing.split_quoted(context.parsed.text or "")
    with translation.override(outbound.language_of(person)):
        result = change_services.vote_by_mail(tag=tag, sender=context.address, text=text)
        reason = str(result.reason)
    number = result.change.number if result.change is not None else tag
    if result.accepted:
        message.outcome = Outcome.CHANGE_VOTED
        message.detail = f"{number}: {result.decision}"
        logger.info(
            "mail %s: %s voted %s on %s", message.pk, context.address, result.decision, number
        )
    else:
        message.outcome = Outcome.CHANGE_VOTE_REFUSED
        message.detail = f"{number}: {reason}"
        logger.warning(
            "mail %s: vote by mail from %s on %s refused: %s",
            message.pk,
            context.address,
            number,
            reason,
        )
    if person is None and result.voter is None:
        return  # a stranger: refused and logged, never answered
    change = result.change
    outbound.outbound_queue(
        kind=Kind.CHANGE_VOTE_ANSWER,
        to=context.address,
        person=person,
        context={
            "subject": message.subject,
            "mailbox_address": message.mailbox.address,
            "change": change,
            "accepted": result.accepted,
            "reason": reason,
            "approved": result.decision == Vote.Decision.APPROVE,
            "decided": bool(result.decision),
            "comment": result.comment,
            "change_state": change.get_state_display() if change is not None else "",
        },
        in_reply_to=message.message_id,
        dedupe_key=f"change_answer:{message.pk}",
    )
