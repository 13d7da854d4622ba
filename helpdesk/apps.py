from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_roles_after_migrate(sender, apps=None, **kwargs):
    # `flush` (transactional tests) emits post_migrate without `apps`.
    # Roles are configuration, not domain flow: keeping them in step with the code after
    # every migrate is what this signal is for. post_migrate fires once per app and each
    # app's permissions are created by its own firing, so wait for the last app.
    from django.apps import apps as global_apps

    from helpdesk.roles import sync_roles

    with_models = [c for c in global_apps.get_app_configs() if c.models_module is not None]
    if sender.label == with_models[-1].label:
        sync_roles()


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = _("Help desk core")

    def ready(self):
        post_migrate.connect(_sync_roles_after_migrate, dispatch_uid="sync_roles")

        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group, Permission
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from helpdesk import auth, refdata, security

        user_model = get_user_model()
        for through in (
            user_model.groups.through,
            user_model.user_permissions.through,
            Group.permissions.through,
        ):
            m2m_changed.connect(
                auth.permissions_changed, sender=through, dispatch_uid=f"perms:{through}"
            )
        for model in (Group, Permission):
            for signal in (post_save, post_delete):
                signal.connect(
                    auth.permissions_changed, sender=model, dispatch_uid=f"perms:{model}:{signal}"
                )

        # Groups, services, categories and sites are kept in each process (helpdesk.refdata).
        from helpdesk.models import Category, Service, Site, SupportGroup

        refdata.keep(SupportGroup, Service, Category, Site)

        user_logged_in.connect(security.set_session_lifetime, dispatch_uid="session_lifetime")
        post_save.connect(
            security.revoke_api_tokens_on_account_change,
            sender=get_user_model(),
            dispatch_uid="revoke_api_tokens",
        )
