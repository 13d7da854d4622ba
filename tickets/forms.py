"""Forms of the portal and console pages: validation only, the services do the writing."""

from __future__ import annotations

import re
import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from helpdesk import refdata
from helpdesk.form_rendering import ModelChoiceField
from helpdesk.models import Category, Person, Service, SupportGroup
from tickets import selectors, services, uploads
from tickets.models import (
    Channel,
    Impact,
    PendingReason,
    Priority,
    ResolutionCode,
    Status,
    TicketType,
    Urgency,
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked for size and real type like the API does."""

    widget = MultipleFileInput
    max_files = uploads.MAX_FILES

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Attachments"))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        uploads = data if isinstance(data, list | tuple) else [data]
        cleaned = [single(upload, initial) for upload in uploads if upload]
        if len(cleaned) > self.max_files:
            raise ValidationError(
                _("Attach at most %(count)s files at a time.") % {"count": self.max_files}
            )
        errors = []
        for upload in cleaned:
            try:
                services.validate_upload(upload)
            except ValidationError as error:
                for message in error.messages:
                    errors.append(f"{upload.name}: {message}")
        if errors:
            raise ValidationError(errors)
        return cleaned


def add_service_errors(form: forms.Form, error: ValidationError, aliases=None) -> None:
    """Put a service's ValidationError next to the fields it names (or on top of the form)."""
    aliases = aliases or {}
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            name = aliases.get(field, field)
            form.add_error(name if name in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


def _service_choices():
    return Service.objects.filter(is_active=True).order_by("name")


# The same options from the rows each process keeps (helpdesk.refdata): no query to show them.
def _active_services():
    return refdata.active(Service)


def _active_categories():
    return refdata.active(Category)


def _active_groups():
    return refdata.active(SupportGroup)


def _second_line_groups():
    return [row for row in refdata.active(SupportGroup) if row.tier >= SupportGroup.Tier.SECOND]


# --- portal ------------------------------------------------------------------------------------


def _new_submission_key() -> str:
    return uuid.uuid4().hex


class SubmitOnceForm(forms.Form):
    """A form that creates something once: a one-time token made when the form is first
    shown (and kept when it comes back with errors) lets the service answer a repeated
    submission with what the first one created (``services.ticket_create_once``)."""

    submission_key = forms.CharField(
        widget=forms.HiddenInput, required=False, initial=_new_submission_key
    )

    def clean_submission_key(self) -> str:
        key = self.cleaned_data["submission_key"]
        # Anything but the token the page was given (a hand-made request) is no token.
        return key if re.fullmatch(r"[0-9a-f]{32}", key) else ""


class PortalTicketForm(SubmitOnceForm):
    title = forms.CharField(
        label=_("What is the problem?"),
        max_length=200,
        help_text=_("One line, for example “I cannot print on the 3rd floor”."),
    )
    description = forms.CharField(
        label=_("Details"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("What happened, since when, what you already tried, any error message."),
    )
    service = ModelChoiceField(
        label=_("Affected service (optional)"),
        queryset=_service_choices(),
        rows=_active_services,
        required=False,
        empty_label=_("I don't know"),
    )
    attachments = MultipleFileField(help_text=_("Screenshots or documents, optional."))


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Your reply"), widget=forms.Textarea(attrs={"rows": 3}))
    attachments = MultipleFileField()


class VersionForm(forms.Form):
    """A form acting on a ticket as the user saw it (optimistic locking).

    Transition forms (named in ``tickets.transitions``) are built with the ticket, so that
    a form may narrow its choices to it; their other fields are the service's keywords.
    """

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, ticket=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.ticket = ticket


class ReopenForm(VersionForm):
    reason = forms.CharField(
        label=_("Why is the problem not solved?"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CancelForm(VersionForm):
    reason = forms.CharField(label=_("Reason (optional)"), required=False, widget=forms.TextInput())


# --- console: transitions ----------------------------------------------------------------------


class PendForm(VersionForm):
    reason = forms.ChoiceField(label=_("Waiting for"), choices=PendingReason.choices)
    note = forms.CharField(label=_("Note"), max_length=250, required=False)


class ResolveForm(VersionForm):
    code = forms.ChoiceField(
        label=_("Resolution code"), choices=[("", "---------"), *ResolutionCode.choices]
    )
    notes = forms.CharField(
        label=_("Resolution notes (the caller sees them)"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class TransferForm(VersionForm):
    group = ModelChoiceField(
        label=_("Transfer to group"),
        queryset=SupportGroup.objects.filter(is_active=True),
        rows=_active_groups,
    )
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.ticket is not None and self.ticket.group_id:
            current = self.ticket.group_id
            field = self.fields["group"]
            field.queryset = field.queryset.exclude(pk=current)
            field.rows = lambda: [row for row in _active_groups() if row.pk != current]


class EscalateForm(VersionForm):
    group = ModelChoiceField(
        label=_("Second-line group"),
        queryset=SupportGroup.objects.filter(is_active=True, tier__gte=SupportGroup.Tier.SECOND),
        rows=_second_line_groups,
    )
    diagnostic_notes = forms.CharField(
        label=_("Diagnostics already done"), widget=forms.Textarea(attrs={"rows": 3})
    )


class MergeForm(VersionForm):
    into = forms.CharField(
        label=_("Number of the ticket that continues"),
        max_length=20,
        help_text=_("This ticket closes as its duplicate, for example INC-000123."),
    )

    def clean_into(self):
        from tickets.models import Ticket
        from tickets.selectors import ticket_number_normalized

        number = ticket_number_normalized(self.cleaned_data["into"])
        ticket = Ticket.objects.filter(number=number).first() if number else None
        if ticket is None:
            raise ValidationError(_("There is no such ticket."))
        return ticket


# --- console: editing and comments -------------------------------------------------------------


class ClassificationForm(VersionForm):
    """The ticket page's classification.

    Each field also carries the value the page showed (Django's hidden initial,
    ``initial-<name>``), so that a save writes only the fields the user changed
    (:meth:`changes`) and the service can tell them from a colleague's newer edit
    (:meth:`read_values`).
    """

    FIELDS = ("service", "category", "impact", "urgency")

    service = ModelChoiceField(
        label=_("Service"),
        queryset=_service_choices(),
        rows=_active_services,
        required=False,
        show_hidden_initial=True,
    )
    category = ModelChoiceField(
        label=_("Category"),
        queryset=Category.objects.filter(is_active=True),
        rows=_active_categories,
        required=False,
        show_hidden_initial=True,
    )
    impact = forms.TypedChoiceField(
        label=_("Impact"), choices=Impact.choices, coerce=int, show_hidden_initial=True
    )
    urgency = forms.TypedChoiceField(
        label=_("Urgency"), choices=Urgency.choices, coerce=int, show_hidden_initial=True
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.both_changed: tuple[str, ...] = ()

    @classmethod
    def values_of(cls, ticket) -> dict:
        """The ticket's stored values as the form shows them."""
        return {
            "version": ticket.version,
            "service": ticket.service_id,
            "category": ticket.category_id,
            "impact": ticket.impact,
            "urgency": ticket.urgency,
        }

    @classmethod
    def on_top_of(cls, ticket, submitted: ClassificationForm, both_changed=()):
        """After a conflict: the current values with the user's own changes applied only to
        the fields they changed, read again at the current version; the fields both changed
        say what the other person chose."""
        current = cls.values_of(ticket)
        changed = set(submitted.changed_data)
        data = {"version": ticket.version}
        for name in cls.FIELDS:
            stored = "" if current[name] is None else str(current[name])
            data[submitted[name].html_initial_name] = stored
            data[name] = submitted.data.get(name, "") if name in changed else stored
        form = cls(data, ticket=ticket)
        form.both_changed = tuple(name for name in both_changed if name in cls.FIELDS)
        for name in form.both_changed:
            display = getattr(ticket, f"get_{name}_display", None)
            theirs = display() if display else (getattr(ticket, name) or "—")
            form.fields[name].help_text = _(
                "Someone else changed this to “%(value)s” meanwhile; your choice is shown."
            ) % {"value": theirs}
        form.is_valid()
        return form

    def changes(self) -> dict:
        """The fields the user changed on the page, with their new values."""
        return {name: self.cleaned_data[name] for name in self.FIELDS if name in self.changed_data}

    def read_values(self) -> dict | None:
        """What the page showed for each field, or None when the form came without them."""
        names = {name: self[name].html_initial_name for name in self.FIELDS}
        if not all(hidden in self.data for hidden in names.values()):
            return None
        return {name: self.data[hidden] for name, hidden in names.items()}


class CommentForm(forms.Form):
    class Visibility:
        INTERNAL = "internal"
        PUBLIC = "public"

    visibility = forms.ChoiceField(
        label=_("Kind"),
        choices=[
            (Visibility.INTERNAL, _("Internal work note (agents only)")),
            (Visibility.PUBLIC, _("Public reply (the caller sees it)")),
        ],
        initial=Visibility.INTERNAL,
        widget=forms.RadioSelect,
    )
    body = forms.CharField(
        label=_("Text"),
        # The composer's script finds the text here (canned replies, @mentions, shortcuts).
        widget=forms.Textarea(attrs={"rows": 3, "data-shortcut": "compose"}),
    )
    attachments = MultipleFileField()

    @property
    def is_internal(self) -> bool:
        return self.cleaned_data["visibility"] == self.Visibility.INTERNAL


class ConsoleTicketForm(SubmitOnceForm):
    caller = ModelChoiceField(
        label=_("Caller"),
        queryset=Person.objects.filter(is_active=True),
        widget=forms.HiddenInput,
        error_messages={"required": _("Find and choose the caller.")},
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    type = forms.ChoiceField(label=_("Type"), choices=TicketType.choices)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.PHONE)
    service = ModelChoiceField(
        label=_("Service"), queryset=_service_choices(), rows=_active_services, required=False
    )
    category = ModelChoiceField(
        label=_("Category"),
        queryset=Category.objects.filter(is_active=True),
        rows=_active_categories,
        required=False,
    )
    impact = forms.TypedChoiceField(
        label=_("Impact"), choices=Impact.choices, coerce=int, initial=Impact.SINGLE
    )
    urgency = forms.TypedChoiceField(
        label=_("Urgency"), choices=Urgency.choices, coerce=int, initial=Urgency.MEDIUM
    )
    attachments = MultipleFileField()
    first_contact = forms.BooleanField(label=_("Solved on first contact"), required=False)
    code = forms.ChoiceField(
        label=_("Resolution code"),
        choices=[("", "---------"), *ResolutionCode.choices],
        required=False,
    )
    notes = forms.CharField(
        label=_("Resolution notes"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("first_contact"):
            if not cleaned.get("code"):
                self.add_error("code", _("Choose a resolution code."))
            if not (cleaned.get("notes") or "").strip():
                self.add_error("notes", _("Say how the problem was solved."))
        return cleaned


class QueueFilterForm(forms.Form):
    """The console's filters; every field is optional and bad values are simply ignored."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    state = forms.ChoiceField(
        label=_("State"), choices=[("", _("Any state")), *Status.choices], required=False
    )
    priority = forms.TypedChoiceField(
        label=_("Priority"),
        choices=[("", _("Any priority")), *Priority.choices],
        coerce=int,
        required=False,
        empty_value=None,
    )
    group = ModelChoiceField(
        label=_("Group"),
        queryset=SupportGroup.objects.filter(is_active=True),
        rows=_active_groups,
        required=False,
        empty_label=_("Any group"),
    )
    service = ModelChoiceField(
        label=_("Service"),
        queryset=_service_choices(),
        rows=_active_services,
        required=False,
        empty_label=_("Any service"),
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[("", _("Any channel")), *Channel.choices], required=False
    )
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=200,
        help_text=_("Tickets with all of these tags, separated by commas."),
        widget=forms.TextInput(attrs={"placeholder": _("vpn, printer")}),
    )

    MAX_TAGS = 5

    def clean_tags(self) -> list[str]:
        # Tags are stored lower-case (tickets.models.Tag).
        names = [name.lower() for name in re.split(r"[,\s]+", self.cleaned_data["tags"])]
        names = list(dict.fromkeys(name for name in names if name))
        if len(names) > self.MAX_TAGS:
            raise ValidationError(_("Filter by at most %(count)s tags.") % {"count": self.MAX_TAGS})
        if any(len(name) > 50 for name in names):
            raise ValidationError(_("A tag has at most 50 characters."))
        return names


class SavedViewForm(forms.Form):
    """Save the queue as shown (``query``: its query string) under a name."""

    name = forms.CharField(label=_("Name of the view"), max_length=60)
    query = forms.CharField(widget=forms.HiddenInput, required=False, max_length=2000)
    # Set when the user confirmed that a view of the same name is replaced.
    replace = forms.BooleanField(widget=forms.HiddenInput, required=False)

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise ValidationError(_("Give the view a name."))
        return name


class SavedViewRenameForm(forms.Form):
    name = forms.CharField(label=_("New name"), max_length=60)

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise ValidationError(_("Give the view a name."))
        return name


class TicketSelectionField(forms.Field):
    """The tickets ticked in the queue: ``<id>:<version>`` each, the version the row showed."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *, limit: int, **kwargs):
        self.limit = limit
        kwargs.setdefault("error_messages", {"required": _("Select at least one ticket.")})
        super().__init__(**kwargs)

    def to_python(self, value) -> dict[int, int]:
        if not value:
            return {}
        selected: dict[int, int] = {}
        for item in value if isinstance(value, list | tuple) else [value]:
            pk, _sep, version = str(item).partition(":")
            if not pk.isdigit() or not version.isdigit():
                raise ValidationError(_("The selection was out of date: reload the page."))
            selected[int(pk)] = int(version)
        return selected

    def validate(self, value):
        super().validate(value)
        if len(value) > self.limit:
            raise ValidationError(
                _("Select at most %(limit)s tickets at a time (%(count)s were selected).")
                % {"limit": self.limit, "count": len(value)}
            )


class BulkActionForm(forms.Form):
    """One action on the tickets ticked in the queue. ``transition_kwargs`` are the keywords of
    the transition's service (``tickets.services.transition_take``)."""

    LIMIT = 100

    class Action(models.TextChoices):
        ASSIGN = "assign", _("Assign to")
        TRANSFER = "transfer", _("Transfer to group")
        START = "start", _("Start work")
        PEND = "pend", _("Put on hold")
        RESOLVE = "resolve", _("Resolve")
        CANCEL = "cancel", _("Cancel")
        CLOSE = "close", _("Close")
        MERGE = "merge", _("Merge into one")

    tickets = TicketSelectionField(limit=LIMIT)
    action = forms.ChoiceField(label=_("Action"), choices=Action.choices)
    assignee = ModelChoiceField(
        label=_("Assign to"), queryset=selectors.ticket_workers(), required=False
    )
    group = ModelChoiceField(
        label=_("Transfer to group"),
        queryset=SupportGroup.objects.filter(is_active=True),
        rows=_active_groups,
        required=False,
    )
    transfer_reason = forms.CharField(label=_("Reason"), max_length=500, required=False)
    pending_reason = forms.ChoiceField(
        label=_("Waiting for"), choices=[("", "---------"), *PendingReason.choices], required=False
    )
    pending_note = forms.CharField(label=_("Note"), max_length=250, required=False)
    code = forms.ChoiceField(
        label=_("Resolution code"),
        choices=[("", "---------"), *ResolutionCode.choices],
        required=False,
    )
    notes = forms.CharField(label=_("Resolution notes (the caller sees them)"), required=False)
    cancel_reason = forms.CharField(label=_("Reason (optional)"), max_length=500, required=False)
    survivor = forms.IntegerField(label=_("Keep this ticket"), required=False, min_value=1)

    def __init__(self, *args, merge_available: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not merge_available:
            self.fields["action"].choices = [
                choice for choice in self.Action.choices if choice[0] != self.Action.MERGE
            ]
        self.transition_kwargs: dict = {}

    def _required(self, field: str, message) -> object:
        value = self.cleaned_data.get(field)
        if value in (None, "") or (isinstance(value, str) and not value.strip()):
            self.add_error(field, message)
        return value

    def clean(self):
        cleaned = super().clean()
        action = cleaned.get("action")
        kwargs: dict = {}
        if action == self.Action.ASSIGN:
            kwargs["assignee"] = self._required("assignee", _("Choose who gets the tickets."))
        elif action == self.Action.TRANSFER:
            kwargs["group"] = self._required("group", _("Choose the group to transfer to."))
            kwargs["reason"] = self._required(
                "transfer_reason", _("Say why the tickets are transferred.")
            )
        elif action == self.Action.PEND:
            kwargs["reason"] = self._required(
                "pending_reason", _("Choose why the tickets are pending.")
            )
            kwargs["note"] = cleaned.get("pending_note", "")
        elif action == self.Action.RESOLVE:
            kwargs["code"] = self._required("code", _("Choose a resolution code."))
            kwargs["notes"] = self._required("notes", _("Say how the tickets were resolved."))
        elif action == self.Action.CANCEL:
            kwargs["reason"] = cleaned.get("cancel_reason", "")
        elif action == self.Action.MERGE:
            survivor = self._required("survivor", _("Choose the ticket to keep."))
            selected = cleaned.get("tickets") or {}
            if survivor and survivor not in selected:
                self.add_error("survivor", _("Keep one of the selected tickets."))
            elif selected and len(selected) < 2:
                self.add_error("tickets", _("Select at least two tickets to merge."))
        self.transition_kwargs = kwargs
        return cleaned
