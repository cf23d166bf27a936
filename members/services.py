"""Writes for members."""

from django.db import transaction

from members.models import Member


@transaction.atomic
def member_update_profile(*, member: Member, display_name: str, email: str, bio: str) -> Member:
    member.display_name = display_name.strip()
    member.email = email.strip()
    member.bio = bio.strip()
    member.save(update_fields=["display_name", "email", "bio"])
    return member
