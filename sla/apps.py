from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = _("Service levels")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from helpdesk import refdata, ui
        from helpdesk import services as people
        from sla import selectors, services
        from sla.models import BusinessCalendar, SlaPolicy, SlaThreshold
        from tickets import display, events

        # Every ticket event reads the policies, thresholds and calendars: kept per process.
        refdata.keep(SlaPolicy, SlaThreshold, BusinessCalendar)
        events.subscribe(services.on_ticket_event)
        people.subscribe_person_changes(services.on_person_changed)
        display.register_queue_rows(selectors.queue_rows_prepare)
        ui.register_template("ticket_sidebar", "sla/ticket_sidebar.html")
