"""Pages of the core: sign in/out, password reset by e-mail, the portal home, the language
switch, API tokens."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from helpdesk import views
from helpdesk.forms import PasswordResetForm

urlpatterns = [
    path(
        "accounts/login/",
        views.LoginView.as_view(),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Password reset by e-mail: the link in the mail is valid PASSWORD_RESET_TIMEOUT seconds
    # and works once; a new password signs the user out everywhere and revokes their tokens.
    path(
        "accounts/password-reset/",
        auth_views.PasswordResetView.as_view(
            form_class=PasswordResetForm,
            success_url=reverse_lazy("password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("language/", views.set_language, name="set_language"),
    path("account/api-tokens/", views.api_tokens, name="api_tokens"),
    path(
        "account/api-tokens/<int:token_id>/revoke/",
        views.api_token_revoke,
        name="api_token_revoke",
    ),
    path("portal/", views.home, {"portal": True}, name="portal_home"),
    path("", views.home, name="home"),
]
