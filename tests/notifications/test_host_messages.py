"""Messages to the guests (issue 38), through the real SMTP server: a message reaches exactly the
groups the host chose, minus those who turned the topic off, once even when the dispatcher runs
twice; it is rate limited per host and event; guests read it on the event page. And the host asks
those who answered in another app, by mail, to answer the questions."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client

from core.ratelimit import RateLimitedError
from elonara import atrecords, host_messages, questions
from elonara import services as events
from elonara.errors import InvalidInputError, NotAllowedError
from elonara.models import Event, HostMessage
from notifications import services
from notifications.models import Mail, MailSettings
from tests.elonara.test_answers_doors import by_record
from tests.notifications.helpers import drain, event, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def party(django_capture_on_commit_callbacks):
    """A host and a co-host; ann and bob going, cid maybe, dan waiting, eve not going, fay going
    with the topic turned off, gus going with an unproven address."""
    host, cohost = member("host"), member("co")
    ride = event(host, title="Lakeside ride")
    events.event_cohost_add(event=ride, actor=host, member=cohost)
    people = {name: member(name) for name in ("ann", "bob", "cid", "dan", "eve")}
    people["fay"] = member("fay", host_messages=False)
    people["gus"] = member("gus", confirmed=False)
    events.event_update(event=ride, editor=host, capacity=5)  # the host, ann, bob, fay, gus
    with django_capture_on_commit_callbacks(execute=True):
        for name in ("ann", "bob", "fay", "gus"):
            events.rsvp_set(event=ride, member=people[name], status="going")
        events.rsvp_set(event=ride, member=people["cid"], status="maybe")
        events.rsvp_set(event=ride, member=people["dan"], status="going")  # the waiting list
        events.rsvp_set(event=ride, member=people["eve"], status="not_going")
    drain()
    return ride, host, cohost, people


def _host_mail(mail_server, address: str) -> list:
    return [r for r in mail_server.to(address) if r.subject.startswith("Update from the host")]


def test_a_message_reaches_exactly_the_chosen_groups_once(mail_server, party, django_capture_on_commit_callbacks):
    ride, host, cohost, people = party
    assert people["dan"].rsvps.get().status == "waitlisted"
    with django_capture_on_commit_callbacks(execute=True):
        host_messages.host_message_send(event=ride, actor=cohost, body="We moved to room 4.\nSee you!",
                                        groups=["going", "waitlisted"])
    first = drain()
    again = drain()  # the dispatcher runs again: nothing left to send
    assert (first.sent, again.sent) == (3, 0)
    got = {name for name in people if _host_mail(mail_server, f"{name}@example.org")}
    assert got == {"ann", "bob", "dan"}  # not cid (maybe), eve (not going), fay (off), gus (unproven)
    assert not _host_mail(mail_server, "co@example.org") and not _host_mail(mail_server, "host@example.org")
    [received] = _host_mail(mail_server, "ann@example.org")
    assert received.subject == "Update from the host: Lakeside ride"
    assert "We moved to room 4." in received.text() and "Co wrote to the guests" in received.text()
    assert "We moved to room 4.<br>See you!" in received.html()
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_claim_sent_twice_sends_each_mail_once(mail_server, party, django_capture_on_commit_callbacks):
    ride, host, _cohost, _people = party
    with django_capture_on_commit_callbacks(execute=True):
        host_messages.host_message_send(event=ride, actor=host, body="Bring lights.", groups=["maybe"])
    claim = services.mail_claim_due()
    assert claim is not None
    assert services.mail_send_claimed(claim=claim).sent == 1
    assert services.mail_send_claimed(claim=claim).sent == 0  # a redelivered task
    assert len(_host_mail(mail_server, "cid@example.org")) == 1
    assert Mail.objects.filter(kind=Mail.Kind.HOST_MESSAGE, status=Mail.Status.SENT).count() == 1


def test_one_click_turns_the_topic_off(mail_server, party, django_capture_on_commit_callbacks):
    ride, host, _cohost, people = party
    with django_capture_on_commit_callbacks(execute=True):
        host_messages.host_message_send(event=ride, actor=host, body="First.", groups=["going"])
    drain()
    [received] = _host_mail(mail_server, "ann@example.org")
    link = received.message["List-Unsubscribe"].strip().strip("<>")
    assert Client().post(urlsplit(link).path, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert MailSettings.objects.get(member=people["ann"]).host_messages is False
    assert MailSettings.objects.get(member=people["ann"]).reminders is True  # only this topic
    with django_capture_on_commit_callbacks(execute=True):
        host_messages.host_message_send(event=ride, actor=host, body="Second.", groups=["going"])
    drain()
    assert len(_host_mail(mail_server, "ann@example.org")) == 1
    assert len(_host_mail(mail_server, "bob@example.org")) == 2


def test_a_guest_who_left_the_group_before_sending_is_skipped(mail_server, party,
                                                              django_capture_on_commit_callbacks):
    ride, host, _cohost, people = party
    # Two requests: the message commits (its mail queued), then Bob stops going before it is sent.
    with django_capture_on_commit_callbacks(execute=True):
        host_messages.host_message_send(event=ride, actor=host, body="Parking is closed.", groups=["going"])
    with django_capture_on_commit_callbacks(execute=True):
        events.rsvp_set(event=ride, member=people["bob"], status="not_going")
    drain()
    assert not _host_mail(mail_server, "bob@example.org")
    assert Mail.objects.get(kind=Mail.Kind.HOST_MESSAGE, member=people["bob"]).status == Mail.Status.SKIPPED


def test_messages_are_the_hosts_checked_and_rate_limited_per_host_and_event(party):
    ride, host, cohost, people = party
    with pytest.raises(NotAllowedError):
        host_messages.host_message_send(event=ride, actor=people["ann"], body="Hi", groups=["going"])
    with pytest.raises(InvalidInputError):
        host_messages.host_message_send(event=ride, actor=host, body="  ", groups=["going"])
    with pytest.raises(InvalidInputError):
        host_messages.host_message_send(event=ride, actor=host, body="Hi", groups=["not_going"])
    for n in range(3):
        host_messages.host_message_send(event=ride, actor=host, body=f"Note {n}", groups=["going"])
    with pytest.raises(RateLimitedError):
        host_messages.host_message_send(event=ride, actor=host, body="One too many", groups=["going"])
    # The limit is the host's for this event: a co-host, or the host's other event, still may.
    host_messages.host_message_send(event=ride, actor=cohost, body="From the co-host", groups=["going"])
    other = event(host, title="Another ride")
    host_messages.host_message_send(event=other, actor=host, body="Hello", groups=["going"])
    assert HostMessage.objects.filter(event=ride).count() == 4


def test_guests_read_the_updates_meant_for_them_newest_first(party):
    ride, host, _cohost, people = party
    host_messages.host_message_send(event=ride, actor=host, body="Older, to everyone going.", groups=["going"])
    host_messages.host_message_send(event=ride, actor=host, body="Newer, to those waiting.", groups=["waitlisted"])

    def page(who) -> str:
        client = Client()
        client.force_login(who)
        return client.get(f"/events/{ride.pk}/").content.decode()

    ann, dan, eve = page(people["ann"]), page(people["dan"]), page(people["eve"])
    assert "Updates from the host" in ann and "Older, to everyone going." in ann and "Newer" not in ann
    assert "Newer, to those waiting." in dan and "Older" not in dan
    assert "Updates from the host" not in eve and "Updates from the host" not in Client().get(
        f"/events/{ride.pk}/").content.decode()
    hosting = page(host)
    assert hosting.index("Newer, to those waiting.") < hosting.index("Older, to everyone going.")


def test_the_message_page_sends_and_says_when_the_limit_is_reached(mail_server, party, settings):
    ride, host, _cohost, _people = party
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "host_message": (1, 3600)}
    client = Client()
    client.force_login(host)
    sent = client.post(f"/events/{ride.pk}/message/", {"groups": ["going", "maybe"], "body": "Doors at 7."},
                       follow=True)
    assert "Message sent." in sent.content.decode() and "Doors at 7." in sent.content.decode()
    refused = client.post(f"/events/{ride.pk}/message/", {"groups": ["going"], "body": "Again"})
    assert refused.status_code == 200 and "Too many attempts" in refused.content.decode()
    assert list(HostMessage.objects.values_list("body", "groups")) == [("Doors at 7.", ["going", "maybe"])]


def test_the_host_asks_those_who_answered_elsewhere_to_answer_here(mail_server, party, settings,
                                                                   django_capture_on_commit_callbacks):
    settings.ATPROTO_ALLOW_INSECURE_HOSTS = True
    settings.ATPROTO_PLC_URL = settings.ATPROTO_HANDLE_RESOLVER_URL = "http://127.0.0.1:9"
    ride, host, _cohost, people = party
    events.event_update(event=ride, editor=host, capacity=None)
    # As if published: the record written in another app names it by this address.
    Event.objects.filter(pk=ride.pk).update(at_uri=f"at://did:plc:host/{atrecords.EVENT_NSID}/e{ride.pk}",
                                            at_cid="bafyevent")
    ride = Event.objects.get(pk=ride.pk)
    questions.question_add(event=ride, actor=host, kind="short", label="Bike size?", required=True)
    elsewhere = member("hal")
    with django_capture_on_commit_callbacks(execute=True):
        by_record(ride, elsewhere, "going")
    drain()
    client = Client()
    client.force_login(host)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"/events/{ride.pk}/people/", {"action": "ask_questions"}, follow=True)
    assert "Asked 1 person by mail" in answer.content.decode()
    drain()
    asked = [r for r in mail_server.to("hal@example.org") if r.subject.startswith("The host asks")]
    assert len(asked) == 1 and f"/events/{ride.pk}/" in asked[0].text()
    assert not any(r.subject.startswith("The host asks") for r in mail_server.to("ann@example.org"))


def _checkbox_offered(client: Client, ride) -> bool:
    return 'name="also_reply"' in client.get(f"/events/{ride.pk}/message/").content.decode()


def test_the_reply_in_the_thread_is_offered_to_the_host_with_a_thread_and_an_account(party):
    from bluesky.atproto.syntax import is_valid_tid
    from bluesky.models import MemberAppPassword, RecordWrite
    from elonara.models import EventConversation, PublishState

    ride, host, cohost, _people = party
    as_host, as_cohost = Client(), Client()
    as_host.force_login(host)
    as_cohost.force_login(cohost)
    # No thread yet: not offered, and the host is told why.
    page = as_host.get(f"/events/{ride.pk}/message/").content.decode()
    assert 'name="also_reply"' not in page and "announce the event or link its post" in page
    EventConversation.objects.create(event=ride, post_uri="at://did:plc:bobbobbobbobbobbobbobbob/app.bsky.feed.post/3k",
                                     set_by=host)
    assert not _checkbox_offered(as_host, ride)  # no account of their own to post from
    MemberAppPassword.objects.create(member=host, identifier="host.test", handle="host.test",
                                     did="did:plc:hosthosthosthosthosthost", app_password="abcd-efgh-ijkl-mnop")
    assert _checkbox_offered(as_host, ride)
    # A co-host's message never speaks as the host in the host's thread.
    assert not _checkbox_offered(as_cohost, ride)
    with pytest.raises(InvalidInputError) as refused:
        host_messages.host_message_send(event=ride, actor=cohost, body="Hi", groups=["going"], also_reply=True)
    assert refused.value.field == "also_reply" and not HostMessage.objects.exists()
    # Ticked by the host: the message is saved with the reply's key fixed, and queued in the pipeline.
    as_host.post(f"/events/{ride.pk}/message/", {"groups": ["going"], "body": "Room 4.", "also_reply": "on"})
    message = HostMessage.objects.get()
    assert message.reply_state == PublishState.PENDING and is_valid_tid(message.reply_rkey)
    job = RecordWrite.objects.get(kind=RecordWrite.Kind.MESSAGE_REPLY)
    assert (job.object_id, job.member_id) == (message.pk, host.pk)
    assert "Posting it as a reply in the Bluesky thread" in as_host.get(f"/events/{ride.pk}/message/").content.decode()
    # Unticked: a mail and an update only.
    as_host.post(f"/events/{ride.pk}/message/", {"groups": ["going"], "body": "Doors at 7."})
    assert HostMessage.objects.get(body="Doors at 7.").reply_state == ""
    assert RecordWrite.objects.filter(kind=RecordWrite.Kind.MESSAGE_REPLY).count() == 1


def test_a_thread_bluesky_cannot_read_is_tried_a_few_times_then_said(party, settings):
    """The App View does not answer (a closed port on loopback): the reply waits and tries again a
    few times, then fails with a reason the host reads; nothing is written meanwhile."""
    from bluesky.models import MemberAppPassword
    from elonara.models import EventConversation, PublishState

    settings.ATPROTO_ALLOW_INSECURE_HOSTS = True
    settings.BLUESKY_APPVIEW_URL = "http://127.0.0.1:9"
    ride, host, _cohost, _people = party
    MemberAppPassword.objects.create(member=host, identifier="host.test", handle="host.test",
                                     did="did:plc:hosthosthosthosthosthost", app_password="abcd-efgh-ijkl-mnop")
    EventConversation.objects.create(event=ride, post_uri="at://did:plc:bobbobbobbobbobbobbobbob/app.bsky.feed.post/3k",
                                     set_by=host)
    message = host_messages.host_message_send(event=ride, actor=host, body="Room 4.", groups=["going"],
                                              also_reply=True)
    attempts = iter(range(1, 100))
    outcomes = [host_messages.host_message_reply_publish(message_id=message.pk, count_attempt=lambda: next(attempts))
                for _ in range(host_messages.THREAD_READ_ATTEMPTS)]
    assert [o.kind for o in outcomes] == ["wait"] * (host_messages.THREAD_READ_ATTEMPTS - 1) + ["failed"]
    message.refresh_from_db()
    assert message.reply_state == PublishState.FAILED and not message.reply_uri
    client = Client()
    client.force_login(host)
    assert "Not posted in the Bluesky thread: Bluesky did not answer" in client.get(
        f"/events/{ride.pk}/message/").content.decode()


def test_deleting_the_event_offers_to_delete_the_messages_replies(party):
    from bluesky.models import MemberAppPassword, RecordWrite
    from bluesky.records import POST_NSID
    from elonara.models import EventConversation

    ride, host, _cohost, _people = party
    MemberAppPassword.objects.create(member=host, identifier="host.test", handle="host.test",
                                     did="did:plc:hosthosthosthosthosthost", app_password="abcd-efgh-ijkl-mnop")
    EventConversation.objects.create(event=ride, post_uri="at://did:plc:bobbobbobbobbobbobbobbob/app.bsky.feed.post/3k",
                                     set_by=host)
    client = Client()
    client.force_login(host)
    assert 'name="delete_announcement"' not in client.get(f"/events/{ride.pk}/delete/").content.decode()
    replied = host_messages.host_message_send(event=ride, actor=host, body="Room 4.", groups=["going"],
                                              also_reply=True)
    host_messages.host_message_send(event=ride, actor=host, body="Mail only.", groups=["going"])
    page = client.get(f"/events/{ride.pk}/delete/").content.decode()
    assert 'name="delete_announcement"' in page and "your messages posted as replies" in page
    client.post(f"/events/{ride.pk}/delete/", {"delete_announcement": "on"})
    deletions = set(RecordWrite.objects.filter(kind=RecordWrite.Kind.DELETE, collection=POST_NSID)
                    .values_list("rkey", flat=True))
    assert deletions == {replied.reply_rkey}
    # The reply not written yet is never written: its message went with the event.
    assert host_messages.host_message_reply_publish(message_id=replied.pk).state == "missing"
