"""How forms render, for every app: Django's widget templates through Jinja2, and selects
whose options come from one plain query (settings.FORM_RENDERER; the ticket forms' fields)."""

from django import forms
from django.forms.renderers import DjangoTemplates, Jinja2
from django.utils.functional import cached_property


class FormRenderer(DjangoTemplates):
    """Django's own form and widget templates (``django/forms/...``) through Jinja2, the
    rest (the admin's widgets, the project's own) through the Django templates.

    Rendering the ticket page's fields through the Django templates cost 29 ms of the
    page's CPU at 1M tickets (a template per option, ~80 options), 8 ms through Jinja2, which
    renders the same templates Django ships for it (docs/benchmarks.md, issue 19).
    """

    @cached_property
    def jinja2(self) -> Jinja2:
        return Jinja2()

    def get_template(self, template_name):
        if template_name.startswith("django/forms/"):
            return self.jinja2.get_template(template_name)
        return super().get_template(template_name)


class ListedChoiceIterator(forms.models.ModelChoiceIterator):
    """A select's options from one plain query of the field's queryset, or from the rows the
    process keeps (the field's ``rows``, see helpdesk.refdata) without a query.

    Django's own iterator reads ``queryset.iterator()``: on PostgreSQL a server-side cursor,
    three round trips (DECLARE, FETCH, CLOSE) for a handful of groups, and one more COUNT
    for the length; the ticket page has four such selects.
    """

    def _objects(self):
        rows = getattr(self.field, "rows", None)
        return rows() if rows is not None else self.queryset

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self._objects():
            yield self.choice(obj)

    def __len__(self):
        return len(self._objects()) + (self.field.empty_label is not None)


class ModelChoiceField(forms.ModelChoiceField):
    """A ModelChoiceField whose options come from one plain query (ListedChoiceIterator).

    ``rows``: a function giving the options (the same rows as ``queryset``, in its order)
    from what the process keeps, e.g. ``lambda: refdata.active(SupportGroup)``. The
    submitted value is still checked against ``queryset`` in the database.
    """

    iterator = ListedChoiceIterator

    def __init__(self, queryset, *, rows=None, **kwargs):
        self.rows = rows
        super().__init__(queryset, **kwargs)
