from django.urls import path

from feeds import views

urlpatterns = [
    path("xrpc/app.bsky.feed.describeFeedGenerator", views.describe_feed_generator, name="feeds-describe"),
    path("xrpc/app.bsky.feed.getFeedSkeleton", views.get_feed_skeleton, name="feeds-skeleton"),
    path(".well-known/did.json", views.did_json, name="feeds-did-json"),
    path("feeds/communities/<slug:slug>/", views.community_feed, name="feeds-community"),
]
