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
    path("console/bulk/", views.console_bulk, name="console_bulk"),
    path("console/views/", views.saved_views, name="saved_views"),
    path("console/views/<int:pk>/", views.saved_view_open, name="saved_view_open"),
    path("console/views/<int:pk>/rename/", views.saved_view_rename, name="saved_view_rename"),
    path("console/views/<int:pk>/delete/", views.saved_view_delete, name="saved_view_delete"),
    path("console/new/", views.console_create, name="console_create"),
    path("console/callers/", views.caller_search, name="caller_search"),
    path("console/colleagues/", views.colleague_search, name="colleague_search"),
    path("console/tickets/<str:number>/", views.console_detail, name="console_detail"),
    path("console/tickets/<str:number>/edit/", views.console_edit, name="console_edit"),
    path("console/tickets/<str:number>/comment/", views.console_comment, name="console_comment"),
    path(
        "console/tickets/<str:number>/canned/<int:pk>/",
        views.canned_reply_fill,
        name="console_canned_reply",
    ),
    # relations (paths of two segments: the transitions' one-segment path catches the rest)
    path("console/tags/", views.tag_suggestions, name="tag_suggestions"),
    path("console/tickets/<str:number>/links/add/", views.ticket_link_add, name="link_add"),
    path(
        "console/tickets/<str:number>/links/remove/",
        views.ticket_link_remove,
        name="link_remove",
    ),
    path("console/tickets/<str:number>/watchers/add/", views.ticket_watch, name="watch"),
    path("console/tickets/<str:number>/watchers/remove/", views.ticket_unwatch, name="unwatch"),
    path("console/tickets/<str:number>/tags/", views.ticket_tags, name="tags"),
    path(
        "console/tickets/<str:number>/<slug:action>/",
        views.console_action,
        name="console_action",
    ),
]
