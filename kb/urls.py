from django.urls import path

from kb import views

app_name = "kb"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.article_create, name="article_create"),
    path("suggest/", views.suggest, name="suggest"),
    path("stats/", views.stats, name="stats"),
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
