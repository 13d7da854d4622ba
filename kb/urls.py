from django.urls import path

from kb import feeds, views

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
    path("<int:pk>/", views.article_detail, name="article"),
    path("<int:pk>/edit/", views.article_edit, name="article_edit"),
    path("<int:pk>/history/", views.article_history, name="article_history"),
    path("<int:pk>/rate/", views.article_rate, name="article_rate"),
    path("<int:pk>/solved/", views.deflect, name="deflect"),
    path("<int:pk>/workflow/<slug:name>/", views.article_transition, name="article_transition"),
    path("tickets/<str:number>/search/", views.ticket_search, name="ticket_search"),
    path("tickets/<str:number>/link/", views.ticket_link, name="ticket_link"),
    path("tickets/<str:number>/unlink/", views.ticket_unlink, name="ticket_unlink"),
]
