from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CtiConfig(AppConfig):
    name = "cti"
    verbose_name = _("Telephony")

    def ready(self):
        from helpdesk import ui

        # The screen pop lives on every console page.
        ui.register_template("console_widgets", "cti/console_widget.html")
        ui.register_template("ticket_sidebar", "cti/ticket_calls.html")
