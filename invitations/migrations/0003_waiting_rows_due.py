from django.db import migrations
from django.utils import timezone


def waiting_rows_due(apps, schema_editor):
    """Rows the versions before due times left waiting (pending, or queued/sending without a due
    time) become queued and due now, so the dispatcher publishes them: the code no longer has a
    branch for them."""
    Invitation = apps.get_model("invitations", "Invitation")
    now = timezone.now()
    Invitation.objects.filter(status="pending").update(status="queued", due_at=now, updated_at=now)
    Invitation.objects.filter(status__in=["queued", "sending"], due_at__isnull=True).update(due_at=now, updated_at=now)


class Migration(migrations.Migration):

    dependencies = [
        ("invitations", "0002_invitationoptout_invitationreport_invitation_due_at_and_more"),
    ]

    operations = [
        migrations.RunPython(waiting_rows_due, migrations.RunPython.noop),
    ]
