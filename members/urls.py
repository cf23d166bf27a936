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
    path("<str:username>/", views.profile, name="profile"),
]
