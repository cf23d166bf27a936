"""The own profile's mail choices are written by the template, not by each widget's template: the
boxes must stay exactly what the form's widgets would draw (name, id, checked), in each state."""

from __future__ import annotations

import pytest
from django.test import Client

from members.models import Member
from notifications import services
from notifications.forms import MailSettingsForm

pytestmark = pytest.mark.django_db


def test_the_boxes_are_the_forms_own_inputs_checked_as_saved():
    member = Member.objects.create_user(username="ann", password="pw-long-enough-123", email="ann@example.com")
    services.mail_settings_update(member=member, reminders=False, host_messages=False)
    client = Client()
    client.force_login(member)
    page = client.get(f"/members/{member.username}/").content.decode()
    form = MailSettingsForm(instance=services.mail_settings_get(member=member))
    for field in form:
        assert str(field) in page, str(field)
    assert 'name="reminders" id="id_reminders">' in page
    assert 'name="event_changes" id="id_event_changes" checked>' in page
