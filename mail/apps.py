from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailConfig(AppConfig):
    name = "mail"
    verbose_name = _("E-mail")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tickets import events

        from mail.services import notifications

        events.subscribe(notifications.on_ticket_event)
