from django.urls import path
from django.views.generic import TemplateView

from elonara import door_views, views

urlpatterns = [
    path("terms/", TemplateView.as_view(template_name="elonara/terms.html"), name="terms"),
    path("privacy/", TemplateView.as_view(template_name="elonara/privacy.html"), name="privacy"),
    path("communities/", views.community_list, name="community-list"),
    path("communities/new/", views.community_create, name="community-create"),
    path("communities/<slug:slug>/", views.community_detail, name="community-detail"),
    path("communities/<slug:slug>/edit/", views.community_edit, name="community-edit"),
    path("communities/<slug:slug>/calendar.ics", views.community_calendar, name="community-calendar"),
    path("communities/<slug:slug>/members/", views.community_members_manage, name="community-members"),
    path("communities/<slug:slug>/join/", views.community_join, name="community-join"),
    path("communities/<slug:slug>/leave/", views.community_leave, name="community-leave"),
    path("events/new/", views.event_create, name="event-create"),
    path("events/<int:pk>/", views.event_detail, name="event-detail"),
    path("events/<int:pk>/edit/", views.event_edit, name="event-edit"),
    path("events/<int:pk>/rsvp/", views.event_rsvp, name="event-rsvp"),
    path("events/<int:pk>/calendar.ics", views.event_ics, name="event-ics"),
    path("events/<int:pk>/cancel/", views.event_cancel, name="event-cancel"),
    path("events/<int:pk>/delete/", views.event_delete, name="event-delete"),
    path("events/<int:pk>/announcement/retry/", views.event_announce_retry, name="event-announce-retry"),
    path("series/<int:pk>/", views.series_detail, name="series-detail"),
    path("series/<int:pk>/calendar.ics", views.series_ics, name="series-ics"),
    path("events/<int:pk>/conversation/", views.event_conversation, name="event-conversation"),
    path("events/<int:pk>/people/", views.event_people, name="event-people"),
    path("events/<int:pk>/attendees.csv", views.event_attendees_csv, name="event-attendees-csv"),
    path("events/<int:pk>/publish/", views.event_publish, name="event-publish"),
    path("events/<int:pk>/questions/", views.event_questions, name="event-questions"),
    path("events/<int:pk>/answers.csv", views.event_answers_csv, name="event-answers-csv"),
    path("events/<int:pk>/message/", views.event_message, name="event-message"),
    path("events/<int:pk>/ticket/", door_views.event_ticket, name="event-ticket"),
    path("events/<int:pk>/ticket.svg", door_views.event_ticket_qr, name="event-ticket-qr"),
    path("events/<int:pk>/checkin/", door_views.event_checkin, name="event-checkin"),
    path("events/<int:pk>/checkin/take/", door_views.event_checkin_take, name="event-checkin-take"),
    path("events/<int:pk>/checkin/counts/", door_views.event_checkin_counts, name="event-checkin-counts"),
    path("calendar/feed/", views.calendar_feed_manage, name="calendar-feed"),
    # The token is a secret: core.log_filters keeps it out of log lines.
]
