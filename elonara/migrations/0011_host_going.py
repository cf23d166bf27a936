"""Every event's host is going to it (elonara.answers: the host's seat is made with the event).

Events made before that hold no answer of their host: each gets one, going, and its going count
is recounted, so existing events count their hosts as new ones do. A host who had answered their
own event (maybe, not going) keeps that answer: it may already be a record in their repository.
Nothing is published: the event's record already names its host."""

from django.db import migrations
from django.db.models import Count, Exists, OuterRef, Q

BATCH = 500


def hosts_going(apps, schema_editor):
    Event = apps.get_model("elonara", "Event")
    RSVP = apps.get_model("elonara", "RSVP")
    own = RSVP.objects.filter(event_id=OuterRef("pk"), member_id=OuterRef("host_id"))
    missing = Event.objects.filter(~Exists(own)).values_list("pk", "host_id")
    while batch := list(missing[:BATCH]):
        RSVP.objects.bulk_create([RSVP(event_id=pk, member_id=host_id, status="going") for pk, host_id in batch],
                                 ignore_conflicts=True)
        ids = [pk for pk, _host in batch]
        counts = Event.objects.filter(pk__in=ids).annotate(
            going=Count("rsvps", filter=Q(rsvps__status="going")),
            maybe=Count("rsvps", filter=Q(rsvps__status="maybe")))
        for event in counts.only("pk"):
            Event.objects.filter(pk=event.pk).update(going_count=event.going, maybe_count=event.maybe)


class Migration(migrations.Migration):

    dependencies = [
        ('elonara', '0010_rsvp_network_status'),
    ]

    operations = [
        migrations.RunPython(hosts_going, migrations.RunPython.noop),
    ]
