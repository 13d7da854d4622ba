from django.apps import AppConfig, apps
from django.utils.translation import gettext_lazy as _


class CtiConfig(AppConfig):
    name = "cti"
    verbose_name = _("Telephony")

    def ready(self):
        from cti.services import mentions, ticket_events
        from helpdesk import ui
        from tickets import events

        # The cards of calls on the consoles follow their caller's tickets.
        events.subscribe(
            ticket_events.live_calls_refresh_on_ticket_event, kinds=ticket_events.KINDS
        )
        # The console's queues learn of tickets arriving in the agent's groups.
        events.subscribe(ticket_events.ticket_queue_push_on_ticket_event, kinds=ticket_events.KINDS)
        # A colleague named in a work note (@login) is told on their console.
        events.subscribe(mentions.mention_push_on_ticket_event, kinds=mentions.KINDS)

        # SLA warnings and breaches reach the consoles of the people they concern.
        if apps.is_installed("sla"):
            from cti.services import sla_alerts
            from sla import services as sla

            sla.subscribe_notices(sla_alerts.sla_alert_push)

        # The screen pop lives on every console page.
        ui.register_template("console_widgets", "cti/console_widget.html")
        ui.register_template("ticket_sidebar", "cti/ticket_calls.html")
