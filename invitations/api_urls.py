from django.urls import path

from invitations import api

urlpatterns = [
    path("batches/<int:batch_id>/", api.BatchStatusView.as_view(), name="invitations-api-batch"),
    path("<str:kind>/<int:pk>/graph/<str:graph>/", api.GraphPageView.as_view(), name="invitations-api-graph"),
    path("<str:kind>/<int:pk>/preview/", api.PreviewView.as_view(), name="invitations-api-preview"),
    path("<str:kind>/<int:pk>/", api.BulkCreateView.as_view(), name="invitations-api-create"),
]
