from django.urls import path

from changes import views

app_name = "changes"
urlpatterns = [
    path("", views.change_list, name="list"),
    path("new/", views.change_create, name="new"),
    path("board/", views.board, name="board"),
    path("calendar/", views.calendar_view, name="calendar"),
    path("feed/", views.feed_tokens, name="feed_tokens"),
    path("feed/<int:token_id>/revoke/", views.feed_token_revoke, name="feed_token_revoke"),
    path("feed/<str:key>.ics", views.calendar_feed, name="calendar_feed"),
    path("from-ticket/<str:ticket_number>/", views.change_from_ticket, name="from_ticket"),
    path("<str:number>/", views.change_detail, name="detail"),
    path("<str:number>/edit/", views.change_edit, name="edit"),
    path("<str:number>/comment/", views.change_comment, name="comment"),
    path("<str:number>/risk/", views.change_risk, name="risk"),
    path("<str:number>/vote/", views.change_vote, name="vote"),
    path("<str:number>/links/", views.change_link, name="link"),
    path("<str:number>/links/remove/", views.change_unlink, name="unlink"),
    path("<str:number>/attachments/", views.change_attachment_upload, name="attachment_upload"),
    path("<str:number>/attachments/<int:pk>/", views.change_attachment, name="attachment"),
    path("<str:number>/transitions/<str:name>/", views.change_action, name="action"),
]
