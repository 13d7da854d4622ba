from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KbConfig(AppConfig):
    name = "kb"
    verbose_name = _("Knowledge base")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from helpdesk import ui
        from kb import services
        from tickets import resolution

        # A resolved ticket's notes name the public articles linked to it; the caller's
        # ticket page links them.
        resolution.register_references(services.resolution_references)
        ui.register_template("portal_ticket_sidebar", "kb/portal_ticket_articles.html")

        ui.register_template("ticket_sidebar", "kb/ticket_sidebar.html")
        ui.register_template("portal_ticket_create", "kb/portal_suggestions.html")
        ui.register_template("home_notices", "kb/slot_home_notices.html")
        ui.register_template("phone_tools", "kb/slot_phone_search.html")
        ui.register_template("page_notices", "kb/slot_console_board.html")
        # Diagnostic scripts: offered on the ticket page; a run that escalated is shown at
        # the top of the ticket page, where the engineer starts reading.
        ui.register_template("ticket_sidebar", "kb/scripts/slot_ticket_scripts.html")
        ui.register_template("page_notices", "kb/scripts/slot_escalated_run.html")
        # ... and in the telephone widget, beside the call, while the agent is on the ticket.
        ui.register_template("phone_tools", "kb/scripts/slot_phone_scripts.html")
