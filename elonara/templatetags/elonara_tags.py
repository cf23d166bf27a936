"""{% calendar_feed_card %}: the logged-in member's private calendar feed, for their profile."""

from django import template

from elonara import selectors

register = template.Library()


@register.inclusion_tag("elonara/_calendar_feed_card.html", takes_context=True)
def calendar_feed_card(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    feed = selectors.calendar_feed_for_member(member=user) if user is not None else None
    return {"feed": feed, "feed_url": "", "webcal_url": ""}  # the csrf token is passed on by Django
