app_name = "bluesky"

urlpatterns: list = []
