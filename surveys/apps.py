from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = _("Satisfaction surveys")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.apps import apps

        from helpdesk import ui
        from surveys import selectors, services
        from tickets import events

        events.subscribe(services.on_ticket_event, kinds=[events.Kind.TRANSITIONED])
        ui.register_template("portal_ticket_sidebar", "surveys/portal_ticket_card.html")
        ui.register_template("ticket_sidebar", "surveys/ticket_sidebar.html")
        if apps.is_installed("sla"):
            from sla import dashboard

            dashboard.register_agent_column(_("Survey score"), selectors.agent_scores_for_dashboard)
