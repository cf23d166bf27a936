"""A small but complete site for page-by-page browser checks: members, a community, events (one
with a cover, one cancelled, one with long words and URLs), an invitation, answers, an API token,
a calendar feed, an invitation batch. Built through the services, as a member would make it.

`pages(site)` lists every page of every flow that a member or a visitor sees (no admin), by who
looks at it: "visitor" (signed out), "host" (alice), "invitee" (bob, the invited Bluesky account).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

LONG_WORD = "Supercalifragilisticexpialidocious" * 3
LONG_URL = "https://example.org/" + "a-very-long-path-segment/" * 8 + "?utm_source=" + "x" * 60


def cover_upload(width: int = 1600, height: int = 900) -> SimpleUploadedFile:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (38, 84, 160))
    draw = ImageDraw.Draw(image)
    for i in range(0, width, 80):
        draw.rectangle([i, 0, i + 40, height], fill=(70, 130, 210))
    draw.ellipse([width // 3, height // 4, width // 3 + height // 2, height // 4 + height // 2], fill=(250, 196, 64))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return SimpleUploadedFile("cover.jpg", buffer.getvalue(), content_type="image/jpeg")


@dataclass
class Site:
    alice: object
    bob: object
    carol: object
    community: object
    event: object
    plain_event: object
    long_event: object
    cancelled_event: object
    invitation: object
    community_invitation: object
    batch: object
    api_token_id: int
    extra: dict = field(default_factory=dict)


def build_site() -> Site:
    from bluesky.models import MemberAppPassword
    from elonara import services as elonara_services
    from elonara.models import Event
    from invitations import services as invitation_services
    from invitations.models import Invitation
    from members import api_tokens
    from members.models import Member
    from tests.invitations.conftest import link_identity, profile

    alice = Member.objects.create_user(username="alice", password="correct-horse-battery-9", email="alice@example.org",
                                       display_name="Alice Lindqvist", bio="Runs the harbour walks. " + LONG_URL)
    bob = Member.objects.create_user(username="bob", password="correct-horse-battery-9", display_name="Bob Okafor")
    carol = Member.objects.create_user(username="carol", password="correct-horse-battery-9",
                                       display_name=("Carol " + LONG_WORD)[:100])
    # alice posts with her own app password (the invitation post names her @alice.test).
    MemberAppPassword.objects.create(member=alice, identifier="alice.test", handle="alice.test",
                                     did="did:plc:aliceaaaaaaaaaaaaaaaaaaa", app_password="unused-app-password")
    bob_did = "did:plc:bobbbbbbbbbbbbbbbbbbbbbb"
    link_identity(member=bob, did=bob_did, handle="bob.test")

    community = elonara_services.community_create(
        creator=alice, name="Harbour Walkers", image=cover_upload(), image_alt="Blue stripes and a yellow sun",
        description="Evening walks along the harbour, every other Thursday.\n\nAll paces welcome. " + LONG_URL,
    )
    elonara_services.community_join(community=community, member=bob)
    elonara_services.community_join(community=community, member=carol)
    start = (timezone.now() + timedelta(days=9)).replace(hour=17, minute=30, second=0, microsecond=0)
    event = elonara_services.event_create(
        host=alice, title="Harbour lights walk", starts_at=start, ends_at=start + timedelta(hours=2),
        time_zone="Europe/Berlin", venue="Kaispeicher B, Am Sandtorkai 1", locality="Hamburg", country="DE",
        description="We meet by the red lighthouse and walk to the old warehouses.\nBring a torch.",
        community=community, image=cover_upload(), image_alt="Blue stripes and a yellow sun",
    )
    Event.objects.filter(pk=event.pk).update(
        at_uri="at://did:plc:aliceaaaaaaaaaaaaaaaaaaa/community.lexicon.calendar.event/3lbx2vqkzq22c",
        publish_state="published")
    # Announced by Elonara: its edit, cancel and delete pages offer the reply and deletion boxes.
    Event.objects.filter(pk=event.pk).update(
        announce_wanted=True, announce_rkey="3lbx2vqkzq33d", announce_state="published",
        announce_uri="at://did:plc:aliceaaaaaaaaaaaaaaaaaaa/app.bsky.feed.post/3lbx2vqkzq33d", announce_cid="bafyrei")
    event.refresh_from_db()
    plain_event = elonara_services.event_create(
        host=alice, title="Board games night", starts_at=start + timedelta(days=3),
        ends_at=start + timedelta(days=3, hours=3), time_zone="America/New_York", venue="Café Lumière",
        online_url="https://meet.example.org/board-games",
    )
    # Its announcement failed: the host's page says why, with "Try again".
    Event.objects.filter(pk=plain_event.pk).update(
        announce_wanted=True, announce_rkey="3lbx2vqkzq44e", announce_state="failed",
        announce_error="Bluesky refused the post: the account's write limit is reached for today.")
    plain_event.refresh_from_db()
    long_event = elonara_services.event_create(
        host=carol, title=f"Workshop {LONG_WORD}", starts_at=start + timedelta(days=5),
        ends_at=start + timedelta(days=6, hours=2), time_zone="Asia/Kolkata", venue=LONG_WORD,
        online_url=LONG_URL, description=f"Read {LONG_URL} first. {LONG_WORD}",
    )
    cancelled_event = elonara_services.event_create(
        host=alice, title="Cancelled picnic", starts_at=start + timedelta(days=1),
        ends_at=start + timedelta(days=1, hours=2), venue="Stadtpark",
    )
    elonara_services.event_cancel(event=cancelled_event, actor=alice)
    elonara_services.rsvp_set(event=event, member=carol, status="going")
    elonara_services.rsvp_set(event=plain_event, member=bob, status="maybe")

    created = invitation_services.invitations_enqueue(
        host=alice, target=event, message_template="",
        profiles=[profile("bob.test", did=bob_did), profile("dora.test"), profile("emil.test")],
    ).created
    invitation = next(i for i in created if i.recipient_did == bob_did)
    Invitation.objects.filter(pk__in=[i.pk for i in created]).update(status=Invitation.Status.SENT)
    Invitation.objects.filter(pk=created[-1].pk).update(status=Invitation.Status.FAILED,
                                                        failure_reason="The Bluesky server had a problem.")
    community_invitation = invitation_services.invitations_enqueue(
        host=alice, target=community, message_template="", profiles=[profile("frida.test")],
    ).created[0]
    Invitation.objects.filter(pk=community_invitation.pk).update(status=Invitation.Status.SENT)
    invitation.refresh_from_db()
    community_invitation.refresh_from_db()

    from elonara import series as series_services

    weekly = series_services.series_create(
        host=alice, kind="weekly", starts_at=start + timedelta(days=2), ends_at=start + timedelta(days=2, hours=2),
        title="Weekly Go night", venue="Club house", time_zone="Europe/Berlin", capacity=12)
    token = api_tokens.api_token_create(member=alice, name="calendar script " + LONG_WORD, permissions=["read"])
    elonara_services.calendar_feed_issue(member=alice)
    network_event, network_hidden = _network_events(start)
    return Site(alice=alice, bob=bob, carol=carol, community=community, event=event, plain_event=plain_event,
                long_event=long_event, cancelled_event=cancelled_event, invitation=invitation,
                community_invitation=community_invitation, batch=invitation.batch, api_token_id=token.token.pk,
                extra={"series_first": weekly, "network_event": network_event, "network_hidden": network_hidden})


def _network_events(start) -> tuple[object, object]:
    """Two events made in another app: one shown, one self-labelled "!hide" (its page says so)."""
    from network import services as network_services
    from network.models import Creator

    nsid = "community.lexicon.calendar.event"
    made = []
    for rkey, name, extra in (("3lbrowser0002", "Board games at the library", {}),
                              ("3lbrowser0003", "Labelled gathering", {"labels": {
                                  "$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "!hide"}]}})):
        did = "did:plc:" + (rkey * 3)[:24]
        # Its profile counted as read: the pages are checked without the App View.
        Creator.objects.get_or_create(did=did, defaults={"handle": f"{rkey}.example", "display_name": "Another app",
                                                         "profile_checked_at": timezone.now()})
        made.append(network_services.network_event_store(did=did, rkey=rkey, cid="bafyrei" + "a" * 52, record={
            "$type": nsid, "name": name, "createdAt": start.isoformat(timespec="seconds"),
            "startsAt": start.isoformat(timespec="seconds"),
            "endsAt": (start + timedelta(hours=2)).isoformat(timespec="seconds"),
            "mode": f"{nsid}#inperson", "description": "Bring a game.", **extra}))
    return made[0], made[1]


def pages(site: Site) -> dict[str, list[tuple[str, str]]]:
    """(name, path) of every page, by who looks at it. Names are also screenshot file names."""
    event, community = site.event, site.community
    landing = f"{event.get_absolute_url()}?invitation={site.invitation.token}"
    community_landing = f"{community.get_absolute_url()}?invitation={site.community_invitation.token}"
    public = [
        ("network-event", site.extra["network_event"].get_absolute_url()),
        ("network-hidden", site.extra["network_hidden"].get_absolute_url()),
        ("network-answer", "/network/answer/"),
        ("event", event.get_absolute_url()),
        ("event-plain", site.plain_event.get_absolute_url()),
        ("event-long-words", site.long_event.get_absolute_url()),
        ("event-cancelled", site.cancelled_event.get_absolute_url()),
        ("community", community.get_absolute_url()),
        ("communities", "/communities/"),
        ("upcoming", "/upcoming/"),
        ("profile-public", "/members/carol/"),
        ("series", site.extra["series_first"].series.get_absolute_url()),
        ("terms", "/terms/"),
        ("privacy", "/privacy/"),
    ]
    return {
        "visitor": [
            ("home", "/"),
            ("invitation-landing", landing),
            ("community-invitation-landing", community_landing),
            ("login", "/members/login/"),
            ("signup", "/members/signup/"),
            ("password-reset", "/members/password-reset/"),
            ("password-reset-sent", "/members/password-reset/sent/"),
            ("password-reset-link-used", "/members/password-reset/MQ/set-password/"),
            ("password-reset-done", "/members/password-reset/done/"),
            ("mail-confirm-bad-link", "/notifications/confirm/not-a-token/"),
            ("unsubscribe-bad-link", "/notifications/unsubscribe/not-a-token/"),
            *public,
        ],
        "host": [
            ("home", "/"),
            ("event-host", event.get_absolute_url()),
            ("event-host-announcement-failed", site.plain_event.get_absolute_url()),
            ("event-new", "/events/new/"),
            ("event-new-from-link", "/events/new/?title=Tea%20tasting&start=2031-05-02T19:00&end=soon"
                                    "&place=Casa%20do%20Ch%C3%A1&link=javascript:alert(1)&description=Bring%20a%20cup."),
            ("event-edit", f"/events/{event.pk}/edit/"),
            ("event-people", f"/events/{event.pk}/people/"),
            ("event-questions", f"/events/{event.pk}/questions/"),
            ("event-message", f"/events/{event.pk}/message/"),
            ("event-checkin", f"/events/{event.pk}/checkin/"),
            ("event-ticket", f"/events/{event.pk}/ticket/"),
            ("event-occurrence-edit", f"/events/{site.extra['series_first'].pk}/edit/"),
            ("event-cancel", f"/events/{event.pk}/cancel/"),
            ("event-delete", f"/events/{event.pk}/delete/"),
            ("community-host", community.get_absolute_url()),
            ("community-new", "/communities/new/"),
            ("network-paste", "/network/paste/"),
            ("community-edit", f"/communities/{community.slug}/edit/"),
            ("community-members", f"/communities/{community.slug}/members/"),
            ("community-feed", f"/feeds/communities/{community.slug}/"),
            ("picker", f"/invitations/event/{event.pk}/invite/"),
            ("progress", f"/invitations/batches/{site.batch.pk}/"),
            ("profile", "/members/alice/"),
            ("profile-edit", "/members/me/edit/"),
            ("password", "/members/me/password/"),
            ("account-delete", "/members/me/delete/"),
            ("calendar-feed", "/calendar/feed/"),
            ("app-password", "/bluesky/app-password/"),
            *public,
        ],
        "invitee": [
            ("home", "/"),
            ("invitation-landing", landing),
            ("event", event.get_absolute_url()),
            ("event-plain", site.plain_event.get_absolute_url()),
            ("profile", "/members/bob/"),
        ],
    }
