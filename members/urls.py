from django.contrib.auth import views as auth_views
from django.urls import path

from members import views

app_name = "members"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", auth_views.LoginView.as_view(template_name="members/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("me/", views.my_profile, name="me"),
    path("me/edit/", views.profile_edit, name="profile-edit"),
    path("me/api-tokens/", views.api_token_create, name="api-token-create"),
    path("me/api-tokens/<int:token_id>/revoke/", views.api_token_revoke, name="api-token-revoke"),
    path("me/delete/", views.account_delete, name="account-delete"),
    path("me/password/", views.password_set, name="password"),
    path("<str:username>/", views.profile, name="profile"),
]
