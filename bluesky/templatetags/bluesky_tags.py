from django import template
from django.utils.translation import gettext, pgettext

from bluesky.forms import AppPasswordForm
from bluesky.selectors import member_app_password_get
from bluesky.services import BlueskyOAuthService

register = template.Library()


@register.simple_tag
def bluesky_identity(member):
    return BlueskyOAuthService.get_identity_for_member(member=member)


@register.inclusion_tag("bluesky/_app_password_form.html", takes_context=True)
def app_password_form(context, level=3):
    """The app-password block for the logged-in member, returning to the current page after a POST;
    `level`: its heading's level (2 on its own page, 3 inside the Bluesky card)."""
    request = context["request"]
    return {
        "app_password": member_app_password_get(member=request.user),
        "app_password_form": AppPasswordForm(),
        "next": request.get_full_path(),
        "level": level,
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def join_words(items) -> str:
    """["a", "b", "c"] as "a, b and c", in the language of the request."""
    items = [str(item) for item in items]
    if len(items) < 2:
        return "".join(items)
    return gettext("%(items)s and %(last)s") % {
        "items": pgettext("list separator", ", ").join(items[:-1]), "last": items[-1]}
