"""/members/: members' own addresses, and the member pages composed here (pages.member_pages),
under the same names as before (`members:profile`, `members:account-delete`)."""

from django.urls import path

from members.urls import urlpatterns as members_urlpatterns
from pages import member_pages

app_name = "members"

urlpatterns = [
    *members_urlpatterns,
    path("me/delete/", member_pages.account_delete, name="account-delete"),
    # Last: any other single segment is a username.
    path("<str:username>/", member_pages.profile, name="profile"),
]
