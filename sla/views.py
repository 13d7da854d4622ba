"""The managers' dashboard: figures, charts, exports."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from helpdesk.errors import ValidationError
from sla import dashboard, exports, services
from sla.forms import DashboardFilterForm
from sla.models import ReportSubscription

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
    if not request.headers.get("HX-Request"):
        context["subscription"] = ReportSubscription.objects.filter(
            user=request.user, is_active=True
        ).first()
    if request.headers.get("HX-Request"):
        return render(request, "sla/partials/_dashboard_figures.html", context)
    return render(request, "sla/dashboard.html", context)


@reports_required
@require_POST
def weekly_subscription(request):
    """Subscribe to the weekly summary narrowed like the dashboard's filters, or unsubscribe."""
    form = DashboardFilterForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Correct the filters to subscribe."))
        return redirect("sla:dashboard")
    active = request.POST.get("action") != "unsubscribe"
    narrowing = {name: form.cleaned_data.get(name) for name in ("site", "group", "service")}
    narrowing["channel"] = form.cleaned_data.get("channel") or ""
    try:
        services.report_subscription_set(user=request.user, active=active, narrowing=narrowing)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("sla:dashboard")
    if active:
        messages.success(
            request,
            _("Every Monday you will receive last week's summary by e-mail, as an XLSX workbook."),
        )
    else:
        messages.success(request, _("You no longer receive the weekly summary."))
    return redirect("sla:dashboard")
