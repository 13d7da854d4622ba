from django.urls import path

from kb import feeds, views, views_scripts

app_name = "kb"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.article_create, name="article_create"),
    path("suggest/", views.suggest, name="suggest"),
    path("stats/", views.stats, name="stats"),
    path("announcements/", views.announcements, name="announcements"),
    path("announcements/new/", views.announcement_edit, name="announcement_create"),
    path("announcements/feed.rss", feeds.AnnouncementsFeed(), name="announcements_rss"),
    path("announcements/feed.atom", feeds.AnnouncementsAtomFeed(), name="announcements_atom"),
    path("announcements/<int:pk>/", views.announcement_detail, name="announcement"),
    path("announcements/<int:pk>/edit/", views.announcement_edit, name="announcement_edit"),
    path("announcements/<int:pk>/end/", views.announcement_end, name="announcement_end"),
    path("scripts/", views_scripts.script_list, name="scripts"),
    path("scripts/new/", views_scripts.script_edit, name="script_create"),
    path("scripts/stats/", views_scripts.script_stats, name="script_stats"),
    path("scripts/<int:pk>/", views_scripts.script_detail, name="script"),
    path("scripts/<int:pk>/edit/", views_scripts.script_edit, name="script_edit"),
    path("scripts/<int:pk>/steps/new/", views_scripts.script_step_edit, name="script_step_add"),
    path(
        "scripts/<int:pk>/steps/<slug:step_id>/",
        views_scripts.script_step_edit,
        name="script_step_edit",
    ),
    path("scripts/runs/<int:pk>/", views_scripts.script_run, name="script_run"),
    path(
        "scripts/runs/<int:pk>/answer/",
        views_scripts.script_run_answer,
        name="script_run_answer",
    ),
    path(
        "scripts/runs/<int:pk>/stop/",
        views_scripts.script_run_abandon,
        name="script_run_abandon",
    ),
    path("tickets/<str:number>/script/", views_scripts.script_run_start, name="script_run_start"),
    path(
        "scripts/for-call-card/",
        views_scripts.scripts_for_card_tickets,
        name="scripts_for_card_tickets",
    ),
    path("<int:pk>/", views.article_detail, name="article"),
    path("<int:pk>/edit/", views.article_edit, name="article_edit"),
    path("<int:pk>/history/", views.article_history, name="article_history"),
    path("<int:pk>/revision/", views.revision_edit, name="revision_edit"),
    path(
        "<int:pk>/revision/<slug:name>/",
        views.revision_transition,
        name="revision_transition",
    ),
    path("<int:pk>/rate/", views.article_rate, name="article_rate"),
    path("<int:pk>/solved/", views.deflect, name="deflect"),
    path("<int:pk>/workflow/<slug:name>/", views.article_transition, name="article_transition"),
    path("phone/search/", views.phone_search, name="phone_search"),
    path("tickets/<str:number>/search/", views.ticket_search, name="ticket_search"),
    path("tickets/<str:number>/link/", views.ticket_link, name="ticket_link"),
    path("tickets/<str:number>/unlink/", views.ticket_unlink, name="ticket_unlink"),
]
