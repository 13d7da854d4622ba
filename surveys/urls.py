from django.urls import path

from surveys import views

app_name = "surveys"
urlpatterns = [
    path("results/", views.results_page, name="results"),
    path("results/<int:response_id>/follow-up/", views.follow_up, name="follow_up"),
    path("s/<str:token>/", views.survey_answer, name="answer"),
]
