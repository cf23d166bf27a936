from django.urls import path

from bluesky.agents import views

app_name = "bluesky_agents"

urlpatterns = [
    path("app-password/", views.app_password_page, name="app_password"),
    path("app-password/add/", views.app_password_add, name="app_password_add"),
    path("app-password/remove/", views.app_password_remove, name="app_password_remove"),
]
