from django.urls import path

from pages import views

# The same addresses and names as when elonara served them.
urlpatterns = [
    path("", views.home, name="home"),
    path("calendar/feed/<str:token>.ics", views.member_calendar, name="member-calendar"),
]
