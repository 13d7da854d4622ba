"""Pages of the e-mail channel."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from mail.forms import NotificationSettingsForm
from mail.models import MailAddress, NotificationMute
from mail.services import notifications


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request):
    """The kinds of mail the signed-in person gets: untick one to stop it."""
    person = getattr(request.user, "person", None)
    if person is None:
        return render(request, "mail/notification_settings.html", {"person": None})
    kinds = notifications.notification_kinds_for(request.user)
    muted = set(NotificationMute.objects.filter(person=person).values_list("kind", flat=True))
    form = NotificationSettingsForm(request.POST or None, kinds=kinds, muted=muted)
    if request.method == "POST" and form.is_valid():
        notifications.notification_mutes_set(
            person=person, user=request.user, muted=form.muted_kinds()
        )
        messages.success(request, _("Your mail notification settings are saved."))
        return redirect("mail:notification_settings")
    address = notifications.person_address(person)
    address_problem = (
        bool(address)
        and MailAddress.objects.filter(address=address)
        .filter(Q(permanently_failing=True) | Q(bouncing_since__isnull=False))
        .exists()
    )
    context = {
        "person": person,
        "form": form,
        "address": address,
        "address_problem": address_problem,
    }
    return render(request, "mail/notification_settings.html", context)
