"""The managers' dashboard: figures, charts, exports."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from sla import dashboard, exports
from sla.forms import DashboardFilterForm

EXPORT_FORMATS = {"csv": exports.csv_response, "xlsx": exports.xlsx_response}


def reports_required(view):
    """Managers and administrators (``tickets.view_reports``); others get 403."""

    @login_required
    def wrapper(request, *args, **kwargs):
        if not request.user.has_perm("tickets.view_reports"):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


@reports_required
@require_GET
def dashboard_page(request):
    """The dashboard; htmx polls get only the figures, ``?format=csv|xlsx&table=`` a file."""
    form = DashboardFilterForm(request.GET or None)
    valid = form.is_valid() if form.is_bound else True
    figures = dashboard.build(form.report_filter()) if valid else None
    export = request.GET.get("format")
    if export and figures is not None:
        table = figures["tables"].get(request.GET.get("table", "")) if figures else None
        if export not in EXPORT_FORMATS or table is None:
            raise Http404
        return EXPORT_FORMATS[export](table.name, table.header, table.values())
    query = request.GET.copy()
    for name in ("format", "table"):
        query.pop(name, None)
    context = {"form": form, "figures": figures, "query": query.urlencode()}
    if request.headers.get("HX-Request"):
        return render(request, "sla/partials/_dashboard_figures.html", context)
    return render(request, "sla/dashboard.html", context)
