"""Signals: any saved or deleted event or community (service, admin, shell) drops the home page's
cached "Upcoming events" fragment after commit; every change renews the versions of the kept pages
and parts that show it (core.page_cache), among them the home lists ("Your plans", "Your
communities") of the members it concerns; a DID that becomes a member's takes its outside answers."""

from collections.abc import Iterable

from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from bluesky.models import BlueskyIdentity, MemberAppPassword
from bluesky.services import did_linked
from core.page_cache import (
    EVENT_LISTS,
    EVENT_LISTS_ID,
    MEMBER_CALENDAR,
    MEMBER_HOME,
    VIEWER,
    event_pages_changed,
    member_calendars_changed,
    pages_changed_many,
    viewers_changed,
)
from elonara.firehose import outside_answers_adopt
from elonara.models import (
    RSVP,
    CalendarFeed,
    Community,
    CommunityMembership,
    Event,
    EventCohost,
    EventConversation,
    EventQuestion,
    EventSeries,
    ExternalRSVP,
    HostMessage,
)
from elonara.services import member_home_cache_clear, upcoming_events_changed
from members.models import ApiToken, Member
from network.models import NetworkEvent, NetworkRSVP
from notifications.models import MailSettings


@receiver(did_linked)
def _did_became_a_member(sender, *, member_id: int, did: str, **kwargs) -> None:
    # Their answers given in other apps are a member's answers from now on.
    outside_answers_adopt(did=did, member_id=member_id)
    member_home_cache_clear([member_id])


@receiver([post_save, post_delete], sender=Event)
def _event_changed(sender, instance, signal, created=False, **kwargs) -> None:
    upcoming_events_changed()  # the home page's list (first: dropped before the versions renew)
    # Its answerers' home plans and calendar feeds show it. A new event has no answers yet; a
    # deleted one's answers were deleted first, each renewing its own member's.
    answerers = [] if created or signal is post_delete else list(
        RSVP.objects.filter(event_id=instance.pk).values_list("member_id", flat=True))
    pages_changed_many({
        "event": [instance.pk], EVENT_LISTS: [EVENT_LISTS_ID], MEMBER_CALENDAR: [instance.host_id, *answerers],
        MEMBER_HOME: [instance.host_id, *answerers],  # the host's plans list it too
        # Listed on its community's page (and on the one it left, when moved).
        "community": [instance.community_id, instance.community_id_read],
    })
    instance.community_id_read = instance.community_id  # for this instance's next save


@receiver([post_save, post_delete], sender=Community)
def _community_changed(sender, instance, signal, created=False, **kwargs) -> None:
    upcoming_events_changed()  # the home page's list names the community (first, as above)
    changes: dict[str, Iterable[int]] = {"community": [instance.pk], EVENT_LISTS: [EVENT_LISTS_ID]}
    if signal is post_save and not created:  # its name shows in its members' lists and on its events
        members = list(instance.memberships.values_list("member_id", flat=True))
        changes.update({"event": instance.events.values_list("pk", flat=True), VIEWER: members, MEMBER_HOME: members})
    pages_changed_many(changes)


@receiver([post_save, post_delete], sender=RSVP)
def _answer_changed(sender, instance, **kwargs) -> None:
    pages_changed_many({"event": [instance.event_id], MEMBER_CALENDAR: [instance.member_id],
                        MEMBER_HOME: [instance.member_id]})


@receiver([post_save, post_delete], sender=CommunityMembership)
def _community_page_membership_changed(sender, instance, **kwargs) -> None:
    pages_changed_many({"community": [instance.community_id], VIEWER: [instance.member_id],
                        MEMBER_HOME: [instance.member_id]})


@receiver([post_save, post_delete], sender=ExternalRSVP)
@receiver([post_save, post_delete], sender=EventCohost)
@receiver([post_save, post_delete], sender=EventConversation)
@receiver([post_save, post_delete], sender=EventQuestion)  # asked in the answer form
@receiver([post_save, post_delete], sender=HostMessage)  # "Updates from the host"
def _event_page_row_changed(sender, instance, **kwargs) -> None:
    event_pages_changed([instance.event_id])


# Saved on every login, and never shown on an event or community page (the password is, to its
# member: "Change password" or "Set a password").
_MEMBER_FIELDS_NOT_SHOWN = frozenset({"last_login", "password"})


@receiver(post_save, sender=Member)
def _event_page_person_changed(sender, instance, created, update_fields=None, **kwargs) -> None:
    # Hosts, co-hosts, attendees and community members are shown by name (some with an avatar).
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return
    if update_fields is not None and set(update_fields) <= _MEMBER_FIELDS_NOT_SHOWN:
        viewers_changed([instance.pk])
        return
    hosted = Event.objects.filter(host=instance).values_list("pk", flat=True)
    cohosted = EventCohost.objects.filter(member=instance).values_list("event_id", flat=True)
    answered = RSVP.objects.filter(member=instance).values_list("event_id", flat=True)
    pages_changed_many({
        "event": [*hosted, *cohosted, *answered],
        "community": CommunityMembership.objects.filter(member=instance).values_list("community_id", flat=True),
        MEMBER_CALENDAR: [instance.pk],  # the feed is named after them
        VIEWER: [instance.pk],  # their name in the header, their profile
    })


@receiver(post_delete, sender=Member)
def _viewer_deleted(sender, instance, **kwargs) -> None:
    viewers_changed([instance.pk])  # a page kept for them is never served to a session of theirs


# What a member sees of their own on every page and on their profile (core.page_cache.VIEWER):
# their Bluesky connection and app password (whether they can publish), their calendar feed, mail
# settings and API tokens. (Memberships and community names: above.)
@receiver([post_save, post_delete], sender=CalendarFeed)
def _calendar_feed_changed(sender, instance, **kwargs) -> None:
    # A new token or a revoked feed: the token kept for the feed (elonara.member_feed) is asked again.
    pages_changed_many({VIEWER: [instance.member_id], MEMBER_CALENDAR: [instance.member_id]})


@receiver([post_save, post_delete], sender=BlueskyIdentity)
def _identity_changed(sender, instance, **kwargs) -> None:
    # Also the DID their invitations are addressed to: their home lists them.
    pages_changed_many({VIEWER: [instance.member_id], MEMBER_HOME: [instance.member_id]})


@receiver([post_save, post_delete], sender=MemberAppPassword)
@receiver([post_save, post_delete], sender=MailSettings)
@receiver([post_save, post_delete], sender=ApiToken)
def _viewer_row_changed(sender, instance, **kwargs) -> None:
    viewers_changed([instance.member_id])


@receiver(pre_delete, sender=Community)
@receiver(pre_delete, sender=EventSeries)
def _event_page_link_target_deleted(sender, instance, **kwargs) -> None:
    # Their events keep existing without them (SET_NULL, done by an UPDATE that sends no signal):
    # the pages that link to them are renewed now, while the events can still be found.
    field = "community" if sender is Community else "series"
    event_pages_changed(Event.objects.filter(**{field: instance}).values_list("pk", flat=True))


# The private calendar feeds (elonara.member_feed) list a member's events in other apps too.
@receiver([post_save, post_delete], sender=NetworkRSVP)
def _member_calendar_answer_changed(sender, instance, **kwargs) -> None:
    member_calendars_changed([instance.member_id])


@receiver(post_save, sender=NetworkEvent)
def _member_calendar_network_event_changed(sender, instance, **kwargs) -> None:
    member_calendars_changed(NetworkRSVP.objects.filter(event_id=instance.pk).values_list("member_id", flat=True))
