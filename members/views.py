import hashlib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.http import HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.i18n import supported_language
from core.ratelimit import Limit, RateLimitedError, rate_limit_hit, rate_limit_keys
from members import api_tokens
from members.forms import ApiTokenForm, ProfileForm, QueuedPasswordResetForm, SignUpForm
from members.services import member_email_to_confirm, member_language_set, member_update_profile


def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        member = form.save()
        member_email_to_confirm(member=member)
        login(request, member, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome to Elonara, %(name)s!") % {"name": member.name})
        if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
            return redirect(next_url)
        return redirect("home")
    return render(request, "members/signup.html", {"form": form, "next": next_url})


@login_required
def my_profile(request):
    return redirect("members:profile", username=request.user.username)


@login_required
def profile_edit(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        member_update_profile(member=request.user, **form.cleaned_data)
        messages.success(request, _("Profile saved."))
        return redirect("members:profile", username=request.user.username)
    return render(request, "members/profile_edit.html", {"form": form})


@csrf_exempt
@require_POST
def language_set(request):
    """The footer's language menu: kept in a cookie (visitors) and, for a signed-in member, as
    their setting. Back to the page it was chosen on.

    The menu carries no CSRF token: it is on every page, and pages are kept whole and shared (a
    token would set a cookie on every first view and keep visitors' pages from being kept). Instead
    the browser must say the form was sent from our own pages (Origin, which browsers send with
    every POST, or Sec-Fetch-Site)."""
    if not _same_origin(request):
        return HttpResponseForbidden(_("Choose the language from Elonara's own pages."))
    language = supported_language(request.POST.get("language")) or ""
    if request.user.is_authenticated:
        member_language_set(member=request.user, language=language)
    next_url = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = reverse("home")
    response = redirect(next_url)
    if language:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=settings.LANGUAGE_COOKIE_AGE,
                            secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                            samesite="Lax")
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME, samesite="Lax")
    return response


def _same_origin(request) -> bool:
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin == f"{request.scheme}://{request.get_host()}"
    return request.headers.get("Sec-Fetch-Site") == "same-origin"


@never_cache
@login_required
@require_POST
def api_token_create(request):
    form = ApiTokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the token a name and choose at least one permission."))
        return redirect("members:me")
    try:
        created = api_tokens.api_token_create(member=request.user, name=form.cleaned_data["name"],
                                              permissions=form.cleaned_data["permissions"])
    except api_tokens.ApiTokenError as exc:
        messages.error(request, exc.message)
        return redirect("members:me")
    # Shown once, on a page that is never cached; only its hash is stored.
    # The example command is code, not words: built here so the template holds only text to translate.
    exchange_url = request.build_absolute_uri(reverse("api-token-exchange"))
    example = (f"curl -X POST {exchange_url} -H 'Content-Type: application/json' "
               """-d '{"api_token": "…"}'""")
    return render(request, "members/api_token_created.html", {"created": created, "example": example})


@login_required
@require_POST
def api_token_revoke(request, token_id: int):
    if api_tokens.api_token_revoke(member=request.user, token_id=token_id):
        messages.success(request, _("API token revoked: it stops working at once."))
    return redirect("members:me")


@login_required
def password_set(request):
    """Change the password, or set a first one (members who signed up with Bluesky have none)."""
    form_class = PasswordChangeForm if request.user.has_usable_password() else SetPasswordForm
    form = form_class(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        update_session_auth_hash(request, form.user)
        messages.success(request, _("Password saved. You can now also log in with your username and password."))
        return redirect("members:me")
    return render(request, "members/password.html", {"form": form})


class PasswordResetView(auth_views.PasswordResetView):
    """Django's view with our queued form, rate limited per client address and per address asked
    for. Known and unknown addresses get the same answer (the "check your mail" page)."""

    form_class = QueuedPasswordResetForm
    template_name = "members/password_reset.html"
    success_url = reverse_lazy("members:password-reset-done")

    def form_valid(self, form):
        email = form.cleaned_data["email"].strip().lower()
        keys = [*rate_limit_keys(self.request), "email:" + hashlib.sha256(email.encode()).hexdigest()[:32]]
        try:
            rate_limit_hit(limit=Limit.named("password_reset"), keys=keys)
        except RateLimitedError as exc:
            response = self.render_to_response(self.get_context_data(form=form, rate_limited=exc.message))
            response.status_code = exc.status
            for name, value in exc.http_headers().items():
                response[name] = value
            return response
        return super().form_valid(form)
