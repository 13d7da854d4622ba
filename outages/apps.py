from django.apps import AppConfig, apps
from django.utils.translation import gettext_lazy as _


class OutagesConfig(AppConfig):
    name = "outages"
    verbose_name = _("Mass outages")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from helpdesk import ui
        from outages import services
        from tickets import events

        # One slot for every page (portal banner, console notice), loaded by htmx so that
        # no page pays a query for it; the bulk bar of the queue; the portal's new ticket.
        ui.register_template("page_notices", "outages/slot_page_notices.html")
        ui.register_template("queue_bulk_actions", "outages/slot_queue_bulk.html")
        ui.register_template("portal_ticket_create", "outages/slot_portal_create.html")
        ui.register_template("ticket_sidebar", "outages/slot_ticket_sidebar.html")
        events.subscribe(services.suggestion_on_ticket_event, kinds=[events.Kind.CREATED])
        if apps.is_installed("cti"):
            from cti import notify
            from outages import selectors

            # The caller card shows the outages that affect the caller (architecture 12).
            notify.register_card_notices(selectors.card_notices)
