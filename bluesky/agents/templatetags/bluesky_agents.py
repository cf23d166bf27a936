from django import template

from bluesky.agents.views import app_password_context

register = template.Library()


@register.inclusion_tag("bluesky_agents/_app_password_form.html", takes_context=True)
def app_password_form(context, member=None):
    """`{% load bluesky_agents %}{% app_password_form %}` renders the app-password block for the
    logged-in member (or `member`), returning to the current page after a POST."""
    request = context.get("request")
    member = member or getattr(request, "user", None)
    inner = app_password_context(member=member, next_url=request.get_full_path() if request else "")
    inner["csrf_token"] = context.get("csrf_token")
    return inner
