from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from mail.models import (
    InboundMessage,
    MailAddress,
    Mailbox,
    NotificationMute,
    OutboundMessage,
    TicketCc,
)
from mail.services import ingest


class MailboxForm(forms.ModelForm):
    """Secrets are written, never shown back: an empty field keeps what is stored."""

    oauth_token_url = forms.URLField(
        label=_("OAuth2 token URL"),
        required=False,
        assume_scheme="https",
        help_text=_("Only for the “other” provider."),
    )
    password = forms.CharField(
        label=_("password"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Stored encrypted. Leave empty to keep the current one."),
    )
    oauth_client_secret = forms.CharField(
        label=_("OAuth2 client secret"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Stored encrypted. Leave empty to keep the current one."),
    )
    oauth_refresh_token = forms.CharField(
        label=_("OAuth2 refresh token"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Stored encrypted. Leave empty to keep the current one."),
    )
    clear_password = forms.BooleanField(label=_("remove the stored password"), required=False)

    class Meta:
        model = Mailbox
        fields = [
            "name",
            "address",
            "is_active",
            "default_group",
            "unknown_senders",
            "reply_senders",
            "host",
            "port",
            "security",
            "verify_certificate",
            "folder",
            "after_fetch",
            "move_to_folder",
            "username",
            "auth_method",
            "password_env",
            "oauth_provider",
            "oauth_client_id",
            "oauth_tenant",
            "oauth_token_url",
        ]

    def clean(self):
        data = super().clean()
        if data.get("after_fetch") == Mailbox.AfterFetch.MOVE and not data.get("move_to_folder"):
            self.add_error("move_to_folder", _("Name the folder mail is moved to."))
        if data.get("host") and data.get("auth_method") == Mailbox.AuthMethod.OAUTH2:
            if not data.get("oauth_provider"):
                self.add_error("oauth_provider", _("Choose the OAuth2 provider."))
            if not data.get("oauth_client_id"):
                self.add_error("oauth_client_id", _("The OAuth2 client id is required."))
            if data.get("oauth_provider") == Mailbox.OAuthProvider.CUSTOM and not data.get(
                "oauth_token_url"
            ):
                self.add_error("oauth_token_url", _("The token URL is required."))
        if data.get("host") and not data.get("username"):
            self.add_error("username", _("The user name is required to sign in."))
        return data

    def save(self, commit=True):
        mailbox = super().save(commit=False)
        if self.cleaned_data.get("clear_password"):
            mailbox.password_encrypted = ""
        if self.cleaned_data.get("password"):
            mailbox.set_password(self.cleaned_data["password"])
        if self.cleaned_data.get("oauth_client_secret"):
            mailbox.set_oauth_secret(self.cleaned_data["oauth_client_secret"])
        if self.cleaned_data.get("oauth_refresh_token"):
            mailbox.set_refresh_token(self.cleaned_data["oauth_refresh_token"])
            mailbox.oauth_access_token_encrypted = ""
            mailbox.oauth_access_token_expires_at = None
        if commit:
            mailbox.save()
        return mailbox


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    form = MailboxForm
    list_display = ["name", "address", "host", "is_active", "last_fetch_at", "fetching_well"]
    list_filter = ["is_active", "auth_method"]
    search_fields = ["name", "address", "host"]
    readonly_fields = ["password_stored", "last_fetch_at", "last_error", "last_error_at"]
    fieldsets = [
        (None, {"fields": ["name", "address", "is_active", "default_group"]}),
        (
            _("What mail becomes"),
            {"fields": ["unknown_senders", "reply_senders"]},
        ),
        (
            _("IMAP (leave the host empty for a mailbox the mail server pipes into)"),
            {
                "fields": [
                    "host",
                    "port",
                    "security",
                    "verify_certificate",
                    "folder",
                    "after_fetch",
                    "move_to_folder",
                ]
            },
        ),
        (
            _("Sign-in"),
            {
                "fields": [
                    "username",
                    "auth_method",
                    "password",
                    "password_stored",
                    "clear_password",
                    "password_env",
                ]
            },
        ),
        (
            _("OAuth2 (Microsoft 365, Google)"),
            {
                "fields": [
                    "oauth_provider",
                    "oauth_client_id",
                    "oauth_client_secret",
                    "oauth_tenant",
                    "oauth_token_url",
                    "oauth_refresh_token",
                ]
            },
        ),
        (_("State"), {"fields": ["last_fetch_at", "last_error", "last_error_at"]}),
    ]
    actions = ["fetch_now"]

    @admin.display(description=_("password stored"), boolean=True)
    def password_stored(self, obj):
        return bool(obj.password_encrypted)

    @admin.display(description=_("fetching well"), boolean=True)
    def fetching_well(self, obj):
        return not obj.last_error

    @admin.action(description=_("Fetch mail now"))
    def fetch_now(self, request, queryset):
        from mail.services import fetch

        for mailbox in queryset.filter(is_active=True).exclude(host=""):
            result = fetch.mailbox_fetch(mailbox=mailbox)
            self.message_user(request, f"{mailbox.name}: {result}")


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = [
        "received_at",
        "mailbox",
        "sender",
        "subject",
        "status",
        "outcome",
        "reason",
        "ticket",
        "deliveries",
    ]
    list_filter = ["status", "reason", "outcome", "source", "mailbox", "is_automatic"]
    search_fields = ["sender", "subject", "message_id", "ticket__number"]
    list_select_related = ["mailbox", "ticket"]
    date_hierarchy = "received_at"
    actions = ["retry", "discard"]
    exclude = ["raw", "html_sanitized"]
    readonly_fields = [
        field.name
        for field in InboundMessage._meta.fields
        if field.name not in ("raw", "html_sanitized")
    ] + ["raw_headers"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("raw", "html_sanitized")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # mail is never lost: discard it instead

    @admin.display(description=_("headers"))
    def raw_headers(self, obj):
        raw = bytes(InboundMessage.objects.values_list("raw", flat=True).get(pk=obj.pk))
        text = ingest.headers_of(raw)[:20000].decode("utf-8", "replace")
        return format_html('<pre class="mail-headers">{}</pre>', text)

    @admin.action(description=_("Process again"))
    def retry(self, request, queryset):
        done = 0
        for message in queryset.filter(status=InboundMessage.Status.QUARANTINED):
            result = ingest.message_retry(message=message, by=request.user)
            done += result.status != InboundMessage.Status.QUARANTINED
        self.message_user(
            request,
            ngettext("%(count)d mail processed.", "%(count)d mails processed.", done)
            % {"count": done},
            messages.SUCCESS if done else messages.WARNING,
        )

    @admin.action(description=_("Discard"))
    def discard(self, request, queryset):
        count = 0
        for message in queryset.filter(status=InboundMessage.Status.QUARANTINED):
            ingest.message_discard(message=message, by=request.user)
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d mail discarded.", "%(count)d mails discarded.", count)
            % {"count": count},
        )


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "to", "subject", "status", "attempts", "ticket"]
    list_filter = ["status", "kind"]
    search_fields = ["to", "subject", "message_id", "ticket__number"]
    list_select_related = ["ticket"]
    date_hierarchy = "created_at"
    exclude = ["attachments"]
    readonly_fields = [
        field.name for field in OutboundMessage._meta.fields if field.name != "attachments"
    ]

    def has_add_permission(self, request):
        return False


@admin.register(MailAddress)
class MailAddressAdmin(admin.ModelAdmin):
    list_display = ["address", "bouncing_since", "bounce_count", "permanently_failing"]
    list_filter = ["permanently_failing"]
    search_fields = ["address"]
    actions = ["clear"]

    @admin.action(description=_("Deliver to these addresses again"))
    def clear(self, request, queryset):
        queryset.update(bouncing_since=None, bounce_count=0, permanently_failing=False)


@admin.register(TicketCc)
class TicketCcAdmin(admin.ModelAdmin):
    list_display = ["ticket", "address", "name"]
    search_fields = ["address", "ticket__number"]
    raw_id_fields = ["ticket"]


admin.site.register(NotificationMute)
