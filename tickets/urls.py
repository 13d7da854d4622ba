from django.urls import path

from tickets import views

app_name = "tickets"
urlpatterns = [
    path("attachments/<int:pk>/", views.attachment_download, name="attachment"),
    # portal
    path("tickets/", views.my_tickets, name="my_list"),
    path("tickets/new/", views.ticket_create, name="create"),
    path("tickets/<str:number>/", views.ticket_detail, name="detail"),
    path("tickets/<str:number>/filed/", views.ticket_created, name="created"),
    path("tickets/<str:number>/reply/", views.ticket_reply, name="reply"),
    path("tickets/<str:number>/reopen/", views.ticket_reopen, name="reopen"),
    path("tickets/<str:number>/cancel/", views.ticket_cancel, name="cancel"),
    path("tickets/<str:number>/close/", views.ticket_close, name="close"),
    # console
    path("console/", views.console_queue, name="console"),
    path("console/new/", views.console_create, name="console_create"),
    path("console/callers/", views.caller_search, name="caller_search"),
    path("console/tickets/<str:number>/", views.console_detail, name="console_detail"),
    path("console/tickets/<str:number>/edit/", views.console_edit, name="console_edit"),
    path("console/tickets/<str:number>/comment/", views.console_comment, name="console_comment"),
    path(
        "console/tickets/<str:number>/<slug:action>/",
        views.console_action,
        name="console_action",
    ),
]
