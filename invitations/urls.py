from django.urls import path

from invitations import views

app_name = "invitations"

urlpatterns = [
    path("<str:kind>/<int:pk>/invite/", views.picker, name="picker"),
    path("batches/<int:batch_id>/", views.progress, name="progress"),
    path("batches/<int:batch_id>/retry/", views.retry_failed, name="retry_failed"),
    path("decline/<str:token>/", views.decline, name="decline"),
    path("stop/<str:token>/", views.stop_start, name="stop"),
    path("stop/<str:token>/done/", views.stop_done, name="stop_done"),
]
