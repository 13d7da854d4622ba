"""Which ticket events become which mails (the listener subscribed in ``MailConfig.ready``).

:func:`on_ticket_event` runs after the ticket's transaction commits, in the request or task
that changed the ticket: it only filters and hands the event, as JSON, to the
``mail.notify_ticket_event`` task. :func:`notifications_for_event` (in the worker) decides
who gets what and writes the mails through :mod:`mail.services.outbound`:

============================================ ==================== ========================
event                                        kind                 to
============================================ ==================== ========================
created (not from an automatic mail)         ACKNOWLEDGEMENT      the caller
created                                      GROUP_NEW_TICKET     each member of its group
public comment by an agent                   AGENT_REPLY          the caller, Cc the Ccs
pend, waiting for the user                   WAITING_FOR_YOU      the caller
resolve                                      RESOLVED             the caller
close                                        CLOSED               the caller
assign (to someone else)                     ASSIGNED             the new assignee
work note naming colleagues with @login      MENTIONED            each colleague named
a reply, work note, transition or edit       WATCHED              each watcher (staff)
an SLA threshold reached (``sla`` notices)   SLA_ALERT            assignee or group, managers
a survey invitation sent (``surveys``)        SURVEY_INVITATION    the caller
============================================ ==================== ========================

Nobody gets mail about their own action, nor two mails about one change (a watcher who is
also the new assignee gets the assignment). Watchers hear of work notes too, but only who
wrote one: internal notes and internal attachments never
go into any mail: only a public comment's body and its public files are sent, and the
pending note and resolution notes, which the caller's portal page shows anyway.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils.dateparse import parse_datetime

from helpdesk.models import Person
from helpdesk.roles import can_work_tickets
from mail.models import InboundMessage, NotificationMute, OutboundMessage, TicketCc
from mail.services import outbound
from tickets import events, transitions
from tickets.models import (
    Attachment,
    Comment,
    PendingReason,
    ResolutionCode,
    Ticket,
    TicketWatcher,
    TimelineEntry,
)

Kind = OutboundMessage.Kind

NOTIFIED_TRANSITIONS = frozenset({"pend", "resolve", "close", "assign"})

# What a person may turn off on the "Mail notifications" page.
CALLER_KINDS = (
    Kind.ACKNOWLEDGEMENT,
    Kind.AGENT_REPLY,
    Kind.WAITING_FOR_YOU,
    Kind.RESOLVED,
    Kind.CLOSED,
)
STAFF_KINDS = (
    Kind.ASSIGNED,
    Kind.GROUP_NEW_TICKET,
    Kind.WATCHED,
    Kind.MENTIONED,
    Kind.SLA_ALERT,
)
# What a watcher hears of: every change of the ticket but a file added on its own.
WATCHED_EVENT_KINDS = frozenset(
    {events.Kind.COMMENTED, events.Kind.TRANSITIONED, events.Kind.UPDATED}
)


# --- the listener -----------------------------------------------------------------------


def _may_notify(event: events.TicketEvent) -> bool:
    """Whether ``event`` can make any mail at all (no query: this runs in the request)."""
    if event.kind == events.Kind.CREATED:
        return True
    if event.kind == events.Kind.COMMENTED:
        if event.is_internal:
            return bool(event.mentions)
        return event.actor_id is not None
    if event.kind == events.Kind.TRANSITIONED:
        return event.transition in NOTIFIED_TRANSITIONS
    return False


def event_to_dict(event: events.TicketEvent) -> dict:
    """The JSON form of a ticket event: datetimes in ISO 8601, changes as dicts (what
    ``dataclasses.asdict`` and a JSON round trip give, without ``asdict``'s deep copies: it
    runs in the request or mail worker for every event)."""
    shallow = {field.name: getattr(event, field.name) for field in dataclasses.fields(event)}
    shallow["changes"] = [
        {"field": change.field, "old": change.old, "new": change.new} for change in event.changes
    ]
    return json.loads(json.dumps(shallow, cls=DjangoJSONEncoder))


def on_ticket_event(event: events.TicketEvent) -> None:
    """Hand the event to a Celery task that writes and sends its notifications."""
    # One indexed query, and only for a change that would mail nobody else: a task for
    # every work note of a ticket nobody watches would be a broker round trip for nothing.
    watched = (
        event.kind in WATCHED_EVENT_KINDS
        and TicketWatcher.objects.filter(ticket_id=event.ticket_id).exists()
    )
    if not (_may_notify(event) or watched):
        return
    from mail import tasks

    tasks.notify_ticket_event.delay(event_to_dict(event))


# --- the decision -----------------------------------------------------------------------


def _change(event: dict, name: str) -> dict | None:
    return next((change for change in event.get("changes") or () if change["field"] == name), None)


def _new(event: dict, name: str, default=None):
    change = _change(event, name)
    return change["new"] if change is not None else default


def _anchor(event: dict) -> str:
    if event.get("comment_id"):
        return f"c{event['comment_id']}"
    if event.get("timeline_ids"):
        return f"t{event['timeline_ids'][0]}"
    return f"e{event.get('at', '')}"


def person_address(person: Person | None) -> str:
    """Where a person's mail goes: their own address, else their login's."""
    if person is None:
        return ""
    address = person.email or (person.user.email if person.user_id else "")
    return outbound.normalise(address)


def user_address(user) -> tuple[str, Person | None]:
    person = getattr(user, "person", None)
    address = person_address(person) or outbound.normalise(user.email)
    return address, person


def _caller_draft(ticket: Ticket, kind: str, event: dict, actor, **context) -> list:
    caller = ticket.caller
    if actor is not None and caller.user_id == actor.pk:
        return []  # the caller did it themselves
    address = person_address(caller)
    if not address or (actor is not None and address == user_address(actor)[0]):
        return []
    return [
        outbound.Draft(
            kind=kind,
            to=address,
            person=caller,
            anchor=_anchor(event),
            context=context,
        )
    ]


def _drafts_created(ticket: Ticket, event: dict, actor) -> list:
    drafts = []
    # An auto-reply, bounce or list mail that opened a ticket gets no answer: that is how
    # two robots mail each other for ever.
    automatic = InboundMessage.objects.filter(ticket=ticket, is_automatic=True).exists()
    if not automatic:
        drafts += _caller_draft(ticket, Kind.ACKNOWLEDGEMENT, event, actor)
    if ticket.group_id is not None:
        members = (
            ticket.group.members.filter(is_active=True)
            .select_related("person", "person__user")
            .order_by("pk")
        )
        for member in members:
            if actor is not None and member.pk == actor.pk:
                continue
            address, person = user_address(member)
            if address:
                drafts.append(
                    outbound.Draft(
                        kind=Kind.GROUP_NEW_TICKET,
                        to=address,
                        person=person,
                        anchor=_anchor(event),
                    )
                )
    return drafts


def _drafts_reply(ticket: Ticket, event: dict, actor) -> list:
    if actor is None or not can_work_tickets(actor):
        return []  # the caller's own replies, and the system's notes, are not mailed back
    comment = (
        Comment.objects.filter(pk=event.get("comment_id"), ticket=ticket, is_internal=False)
        .select_related("author", "author_person")
        .first()
    )
    if comment is None:  # internal after all, or deleted: say nothing
        return []
    actor_address = user_address(actor)[0]
    caller_address = person_address(ticket.caller)
    ccs = [
        address
        for address in dict.fromkeys(
            outbound.normalise(cc)
            for cc in TicketCc.objects.filter(ticket=ticket).values_list("address", flat=True)
        )
        if address and address not in (actor_address, caller_address)
    ]
    caller_is_actor = ticket.caller.user_id == actor.pk or caller_address == actor_address
    to, person = caller_address, ticket.caller
    if not to or caller_is_actor:
        if not ccs:
            return []
        to, person, ccs = ccs[0], None, ccs[1:]
    author = comment.author_person.full_name if comment.author_person else ""
    if not author and comment.author is not None:
        author = comment.author.get_full_name() or comment.author.get_username()
    attachments = list(
        Attachment.objects.filter(comment_id=comment.pk, is_internal=False).order_by("pk")
    )
    return [
        outbound.Draft(
            kind=Kind.AGENT_REPLY,
            to=to,
            person=person,
            cc=ccs,
            anchor=_anchor(event),
            comment=comment,
            attachments=attachments,
            context={"body": comment.body, "author_name": author},
        )
    ]


def _drafts_transition(ticket: Ticket, event: dict, actor) -> list:
    name = event.get("transition")
    if name == "pend":
        reason = _new(event, "pending_reason", ticket.pending_reason)
        if reason != PendingReason.USER:
            return []
        # The pending note is public: the caller's portal page shows it.
        note = _new(event, "pending_note", "") or ""
        return _caller_draft(ticket, Kind.WAITING_FOR_YOU, event, actor, note=note)
    if name == "resolve":
        resolved_at = _new(event, "resolved_at")
        resolved_at = parse_datetime(resolved_at) if isinstance(resolved_at, str) else None
        resolved_at = resolved_at or ticket.resolved_at
        code = _new(event, "resolution_code", ticket.resolution_code) or ""
        return _caller_draft(
            ticket,
            Kind.RESOLVED,
            event,
            actor,
            # Public: the caller's portal page shows them ("the caller sees them" on the form).
            notes=_new(event, "resolution_notes", ticket.resolution_notes) or "",
            resolution=ResolutionCode(code) if code in ResolutionCode.values else None,
            reopen_until=(
                resolved_at + timedelta(days=settings.TICKET_REOPEN_DAYS) if resolved_at else None
            ),
        )
    if name == "close":
        return _caller_draft(ticket, Kind.CLOSED, event, actor)
    if name == "assign":
        assignee_id = _new(event, "assignee")
        if assignee_id is None or (actor is not None and assignee_id == actor.pk):
            return []
        assignee = (
            get_user_model()
            .objects.filter(pk=assignee_id, is_active=True)
            .select_related("person", "person__user")
            .first()
        )
        if assignee is None:
            return []
        address, person = user_address(assignee)
        if not address:
            return []
        return [
            outbound.Draft(
                kind=Kind.ASSIGNED,
                to=address,
                person=person,
                anchor=_anchor(event),
                context={"assigned_by": actor},
            )
        ]
    return []


def _watched_change(ticket: Ticket, event: dict) -> dict:
    """What a watcher is told of ``event``: a template context in no language yet."""
    kind = event.get("kind")
    if kind == events.Kind.COMMENTED:
        if event.get("is_internal"):
            return {"change": "note"}  # who wrote one, never its text
        comment = Comment.objects.filter(
            pk=event.get("comment_id"), ticket=ticket, is_internal=False
        ).first()
        return {"change": "reply", "body": comment.body if comment else ""}
    if kind == events.Kind.TRANSITIONED:
        declared = transitions.get(event.get("transition") or "")
        return {"change": "transition", "transition": declared.label if declared else ""}
    fields = []
    for change in event.get("changes") or ():
        name = change["field"]
        try:
            fields.append(Ticket._meta.get_field(name).verbose_name)
        except FieldDoesNotExist:
            fields.append(TimelineEntry.PSEUDO_FIELDS.get(name, name))
    return {"change": "update", "fields": fields}


def _drafts_watchers(ticket: Ticket, event: dict, actor, drafts: list) -> list:
    """A WATCHED mail to each watcher who still works tickets, but the actor and anyone
    this change already mails (the new assignee, a watcher who is the caller)."""
    if event.get("kind") not in WATCHED_EVENT_KINDS:
        return []
    watchers = (
        get_user_model()
        .objects.filter(watched_tickets__ticket=ticket, is_active=True)
        .select_related("person", "person__user")
        .order_by("pk")
    )
    taken = {draft.to for draft in drafts} | {cc for draft in drafts for cc in draft.cc}
    if actor is not None:
        taken.add(user_address(actor)[0])
    context = None
    result = []
    for watcher in watchers:
        if (actor is not None and watcher.pk == actor.pk) or not can_work_tickets(watcher):
            continue
        address, person = user_address(watcher)
        if not address or address in taken:
            continue
        taken.add(address)
        if context is None:
            context = {**_watched_change(ticket, event), "actor": actor}
        result.append(
            outbound.Draft(
                kind=Kind.WATCHED,
                to=address,
                person=person,
                anchor=_anchor(event),
                context=context,
            )
        )
    return result


def _drafts_mentioned(ticket: Ticket, event: dict, actor) -> list:
    """The colleagues a work note names with ``@login`` (``mentions``): who named them, on
    which ticket; the note itself stays on the ticket (internal notes are never mailed)."""
    mentioned = (
        get_user_model()
        .objects.filter(pk__in=event["mentions"], is_active=True)
        .exclude(pk=getattr(actor, "pk", None))
        .select_related("person", "person__user")
        .order_by("pk")
    )
    drafts = []
    for user in mentioned:
        if not can_work_tickets(user):  # no longer an agent since the note was written
            continue
        address, person = user_address(user)
        if address:
            drafts.append(
                outbound.Draft(
                    kind=Kind.MENTIONED,
                    to=address,
                    person=person,
                    anchor=_anchor(event),
                    context={"mentioned_by": actor},
                )
            )
    return drafts


def notifications_for_event(event: dict) -> list[OutboundMessage]:
    """Write (and, after the commit, send) the mails a ticket event calls for.

    ``event`` is :func:`event_to_dict`'s form. Idempotent: each mail has a dedupe key made
    of its kind, the event's timeline row or comment, and the address, so running the task
    twice writes and sends nothing more. Returns the rows written this time."""
    ticket = (
        Ticket.objects.select_related("caller", "caller__user", "group", "assignee")
        .filter(pk=event.get("ticket_id"))
        .first()
    )
    if ticket is None:
        return []
    actor = None
    if event.get("actor_id") is not None:
        actor = (
            get_user_model().objects.select_related("person").filter(pk=event["actor_id"]).first()
        )
    kind = event.get("kind")
    if kind == events.Kind.CREATED:
        drafts = _drafts_created(ticket, event, actor)
    elif kind == events.Kind.COMMENTED and not event.get("is_internal"):
        drafts = _drafts_reply(ticket, event, actor)
    elif kind == events.Kind.COMMENTED and event.get("mentions"):
        drafts = _drafts_mentioned(ticket, event, actor)
    elif kind == events.Kind.TRANSITIONED:
        drafts = _drafts_transition(ticket, event, actor)
    else:
        drafts = []
    drafts += _drafts_watchers(ticket, event, actor, drafts)
    if not drafts:
        return []
    return outbound.messages_queue(ticket=ticket, drafts=drafts)


# --- service-level notices (the sla app's hook) -----------------------------------------


def on_sla_notice(notices) -> None:
    """Listener of ``sla.services.subscribe_notices``: one task per sweep batch (no query)."""
    from mail import tasks

    # Built by hand: dataclasses.asdict and a JSON round trip per notice cost 0.1 ms each,
    # seconds for an hour's backlog of alerts.
    tasks.notify_sla_notices.delay(
        [
            {
                "ticket_id": notice.ticket_id,
                "clock_id": notice.clock_id,
                "target": str(notice.target),
                "percent": notice.percent,
                "due_at": notice.due_at.isoformat() if notice.due_at else None,
                "recipient_ids": list(notice.recipient_ids),
            }
            for notice in notices
        ]
    )


def notifications_for_sla_notice(notice: dict) -> list[OutboundMessage]:
    """An SLA_ALERT mail to each recipient of the notice who still works tickets.

    Idempotent: the anchor is the clock and the threshold, so a task run twice mails once."""
    ticket = (
        Ticket.objects.select_related("caller", "group", "assignee")
        .filter(pk=notice.get("ticket_id"))
        .first()
    )
    if ticket is None:
        return []
    due = parse_datetime(notice.get("due_at") or "")
    recipients = (
        get_user_model()
        .objects.filter(pk__in=notice.get("recipient_ids") or (), is_active=True)
        .select_related("person", "person__user")
        .order_by("pk")
    )
    context = {
        "target": notice.get("target", ""),
        "percent": notice.get("percent"),
        "breached": (notice.get("percent") or 0) >= 100,
        "due_at": due,
    }
    drafts = []
    for user in recipients:
        if not can_work_tickets(user):
            continue
        address, person = user_address(user)
        if address:
            drafts.append(
                outbound.Draft(
                    kind=Kind.SLA_ALERT,
                    to=address,
                    person=person,
                    anchor=f"sla{notice.get('clock_id')}-{notice.get('percent')}",
                    context=context,
                )
            )
    return outbound.messages_queue(ticket=ticket, drafts=drafts)


# --- survey invitations (the surveys app's hook) ------------------------------------------


def on_survey_invitations(invitations) -> None:
    """Listener of ``surveys.services.subscribe_invitations``: one task per send run."""
    from mail import tasks

    tasks.notify_survey_invitations.delay(
        [
            json.loads(json.dumps(dataclasses.asdict(invitation), cls=DjangoJSONEncoder))
            for invitation in invitations
        ]
    )


def survey_invitations_muted(person_id: int) -> bool:
    """Whether the person turned survey invitations off on the "Mail notifications" page
    (``surveys.services.register_opt_out``: the invitation is then skipped, not sent)."""
    return NotificationMute.objects.filter(
        person_id=person_id, kind=Kind.SURVEY_INVITATION
    ).exists()


def notifications_for_survey_invitation(invitation: dict) -> list[OutboundMessage]:
    """A SURVEY_INVITATION mail to the ticket's caller with the survey's link, in the
    caller's language. Idempotent: the anchor is the invitation."""
    ticket = (
        Ticket.objects.select_related("caller", "caller__user")
        .filter(pk=invitation.get("ticket_id"))
        .first()
    )
    if ticket is None or ticket.caller_id != invitation.get("person_id"):
        return []
    address = person_address(ticket.caller)
    if not address:
        return []
    draft = outbound.Draft(
        kind=Kind.SURVEY_INVITATION,
        to=address,
        person=ticket.caller,
        anchor=f"survey{invitation.get('invitation_id')}",
        context={
            "survey_url": invitation.get("url", ""),
            "expires_at": parse_datetime(invitation.get("expires_at") or ""),
        },
    )
    return outbound.messages_queue(ticket=ticket, drafts=[draft])


# --- what a person chose ----------------------------------------------------------------


def notification_kinds_for(user) -> list[str]:
    """The kinds of mail ``user`` may get, hence may turn off."""
    kinds = list(CALLER_KINDS)
    if apps.is_installed("surveys"):
        kinds.append(Kind.SURVEY_INVITATION)
    if can_work_tickets(user):
        kinds += STAFF_KINDS
    return kinds


def notification_mutes_set(*, person: Person, user, muted: set[str]) -> set[str]:
    """Turn off exactly the kinds in ``muted`` (of those ``user`` may get) for ``person``;
    return the kinds muted now."""
    allowed = set(notification_kinds_for(user))
    muted = set(muted) & allowed
    with transaction.atomic():
        NotificationMute.objects.filter(person=person, kind__in=allowed - muted).delete()
        have = set(NotificationMute.objects.filter(person=person).values_list("kind", flat=True))
        NotificationMute.objects.bulk_create(
            [NotificationMute(person=person, kind=kind) for kind in sorted(muted - have)],
            ignore_conflicts=True,
        )
    return muted
