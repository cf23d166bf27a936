from django import template

from bluesky.selectors import identity_get_for_member

register = template.Library()


@register.simple_tag
def bluesky_identity(member):
    return identity_get_for_member(member=member)
