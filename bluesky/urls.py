from django.urls import path

from bluesky import views

app_name = "bluesky"

urlpatterns = [
    path("connect/", views.connect, name="connect"),
    path("sign-in/", views.sign_in, name="sign_in"),
    path("reauthorize/", views.reauthorize, name="reauthorize"),
    path("callback/", views.callback, name="callback"),
    path("disconnect/", views.disconnect, name="disconnect"),
    path("app-password/", views.app_password_page, name="app_password"),
    path("app-password/add/", views.app_password_add, name="app_password_add"),
    path("app-password/remove/", views.app_password_remove, name="app_password_remove"),
    path("client-metadata.json", views.client_metadata, name="client-metadata"),
    path("jwks.json", views.jwks, name="jwks"),
]
