"""Every mail's HTML part, as a phone shows it: 360 px wide, nothing to scroll sideways."""

from datetime import timedelta

import pytest
from django.utils import timezone

from elonara import services as events
from notifications import messages
from notifications.models import Mail
from tests.notifications.helpers import event, member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_every_mail_fits_a_phone(launch_browser):
    host, maya = member("host"), member("maya")
    ride = event(host, title="A very long event title that keeps going " * 3,
                 starts_at=timezone.now() + timedelta(days=2), venue="Boathouse at the far end of the lake " * 2)
    events.rsvp_set(event=ride, member=maya, status="going")
    old = {"old_starts_at": int(ride.starts_at.timestamp()), "old_ends_at": int(ride.ends_at.timestamp()),
           "old_time_zone": "UTC", "old_venue": "Mill", "old_online": False}
    kinds = {Mail.Kind.CONFIRM_ADDRESS: {}, Mail.Kind.PASSWORD_RESET: {}, Mail.Kind.RSVP: {"status": "going"},
             Mail.Kind.CHANGED: old, Mail.Kind.CANCELLED: {}, Mail.Kind.REMINDER: {},
             Mail.Kind.PLACE: {"change": "promoted", "status": "going", "place": None}}
    context = launch_browser()
    page = context.new_page()
    page.set_viewport_size({"width": 360, "height": 740})
    for kind, details in kinds.items():
        mail = Mail(kind=kind, member=maya, event=ride, key=kind, details=details)
        html = messages.compose(mail=mail).email.alternatives[0][0]
        page.set_content(html)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, (kind, width)
        assert page.evaluate("getComputedStyle(document.body.firstElementChild).fontSize") == "16px"
        page.screenshot(path=f"/tmp/elonara-mail-{kind}.png", full_page=True)
