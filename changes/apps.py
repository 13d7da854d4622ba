from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChangesConfig(AppConfig):
    name = "changes"
    verbose_name = _("Change management")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from helpdesk import ui

        ui.register_template("ticket_sidebar", "changes/ticket_sidebar.html")
