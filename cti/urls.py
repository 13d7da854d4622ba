from django.conf import settings
from django.urls import path

from cti import api, views

app_name = "cti"
urlpatterns = [
    # Console pages and the caller card's actions.
    path("calls/", views.call_log, name="call_log"),
    path("calls/missed/handled/", views.missed_mark_handled, name="missed_handled"),
    path("calls/recent/", views.recent_calls, name="recent_calls"),
    path("calls/<int:pk>/card/", views.call_card, name="call_card"),
    path("calls/<int:pk>/ticket/", views.call_ticket_create, name="call_ticket_create"),
    path("calls/<int:pk>/link/", views.call_ticket_link, name="call_ticket_link"),
    path("calls/<int:pk>/caller/", views.call_caller_set, name="call_caller_set"),
    path("calls/<int:pk>/candidates/", views.call_candidates, name="call_candidates"),
    path("calls/<int:pk>/person/", views.call_person_create, name="call_person_create"),
    path("calls/<int:pk>/attach/", views.call_number_attach, name="call_number_attach"),
    path("calls/<int:pk>/dial/", views.call_dial, name="call_dial"),
    path("calls/<int:pk>/end/", views.call_end, name="call_end"),
    # The supervisors' wallboard (its figures come over ws/wallboard/).
    path("wallboard/", views.wallboard_page, name="wallboard"),
    path(
        "wallboard/agents/<int:user_id>/presence/",
        views.wallboard_presence_set,
        name="wallboard_presence_set",
    ),
    # PBX events in (the Zammad-compatible endpoint lives at /api/v1/cti/, see helpdesk.urls).
    path("webhook/<int:pbx_id>/", api.generic_webhook, name="webhook"),
    path("api/blocked-numbers/", api.blocked_number_list, name="blocked_number_list"),
    path("api/blocked-numbers/<int:pk>/", api.blocked_number_detail, name="blocked_number_detail"),
]

# The screen-pop benchmark's baseline (bench/cti_screen_pop.py), served only by a server
# started with CTI_BENCH_ENDPOINTS on: production URLs do not have it.
if settings.CTI_BENCH_ENDPOINTS:
    urlpatterns.append(path("bench/echo/<int:user_id>/", views.bench_echo, name="bench_echo"))
