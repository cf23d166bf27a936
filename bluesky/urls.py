from django.urls import path

from bluesky import views

app_name = "bluesky"

urlpatterns = [
    path("connect/", views.connect, name="connect"),
    path("reauthorize/", views.reauthorize, name="reauthorize"),
    path("callback/", views.callback, name="callback"),
    path("disconnect/", views.disconnect, name="disconnect"),
    path("client-metadata.json", views.client_metadata, name="client-metadata"),
    path("jwks.json", views.jwks, name="jwks"),
]
