from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailConfig(AppConfig):
    name = "mail"
    verbose_name = _("E-mail")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from helpdesk import ui
        from mail import parsing
        from mail.services import notifications
        from tickets import display, events
        from tickets.models import Channel

        events.subscribe(notifications.on_ticket_event)
        # The ticket pages fold a mail's quoted history and signature (display only).
        display.register_folder(Channel.EMAIL, parsing.split_quoted)
        ui.register_template("ticket_sidebar", "mail/ticket_sidebar.html")
