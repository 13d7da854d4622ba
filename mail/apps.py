from django.apps import AppConfig, apps
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
        if apps.is_installed("sla"):
            from sla import services as sla

            sla.subscribe_notices(notifications.on_sla_notice)
        if apps.is_installed("surveys"):
            from surveys import services as surveys

            surveys.subscribe_invitations(notifications.on_survey_invitations)
            surveys.register_opt_out(notifications.survey_invitations_muted)
        if apps.is_installed("changes"):
            from changes import services as changes
            from mail.models import OutboundMessage
            from mail.services import change_approvals, ingest

            changes.subscribe_approval_requests(change_approvals.on_approval_requested)
            changes.subscribe_decisions(change_approvals.on_change_decided)
            ingest.register_reply_handler(
                tag=changes.REPLY_TAG,
                kinds=[OutboundMessage.Kind.CHANGE_APPROVAL],
                handle=change_approvals.on_reply,
            )
        # The ticket pages fold a mail's quoted history and signature (display only).
        display.register_folder(Channel.EMAIL, parsing.split_quoted)
        ui.register_template("ticket_sidebar", "mail/ticket_sidebar.html")
