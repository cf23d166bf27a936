from django.urls import path

from network import views

app_name = "network"

urlpatterns = [
    path("upcoming/", views.upcoming, name="upcoming"),
    path("network/paste/", views.paste, name="paste"),
    # "Answer this event", for other apps: /network/answer/?uri=at://...
    path("network/answer/", views.answer_link, name="answer"),
    # A stable address: the record's repository DID and key (the at:// URI), not a row id.
    path("network/<str:did>/<str:rkey>/", views.event_detail, name="event"),
    path("network/<str:did>/<str:rkey>/rsvp/", views.event_rsvp, name="event-rsvp"),
    path("network/<str:did>/<str:rkey>/calendar.ics", views.event_ics, name="event-ics"),
    path("network/<str:did>/<str:rkey>/hide/", views.creator_hide, name="creator-hide"),
    path("network/<str:did>/<str:rkey>/report/", views.event_report, name="event-report"),
]
