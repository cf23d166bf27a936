from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from members import views
from members.forms import LoginForm

app_name = "members"

# The profile and account-deletion pages compose other apps: pages.member_urls adds them (and
# includes these) under the same namespace.

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", auth_views.LoginView.as_view(template_name="members/login.html", authentication_form=LoginForm),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("me/", views.my_profile, name="me"),
    path("me/edit/", views.profile_edit, name="profile-edit"),
    path("me/api-tokens/", views.api_token_create, name="api-token-create"),
    path("me/api-tokens/<int:token_id>/revoke/", views.api_token_revoke, name="api-token-revoke"),
    path("me/password/", views.password_set, name="password"),
    # Django's own reset views; the request view is rate limited and queues the mail.
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(
        template_name="members/password_reset_done.html"), name="password-reset-done"),
    path("password-reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        template_name="members/password_reset_confirm.html",
        success_url=reverse_lazy("members:password-reset-complete")), name="password-reset-confirm"),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(
        template_name="members/password_reset_complete.html"), name="password-reset-complete"),
]
