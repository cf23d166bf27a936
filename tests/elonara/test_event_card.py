"""An event's card (elonara/_event_card.html) reads labels worked out in Python (Event.card): they
are what Django's `date` filter and `{% timezone %}` block gave, in the event's own zone and the
reader's language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.template import Context, Template
from django.utils import translation

from elonara.models import Event


@pytest.mark.parametrize("language", ["en", "es", "ja", "de"])
@pytest.mark.parametrize("zone", ["America/Argentina/Buenos_Aires", "Asia/Kolkata", "UTC"])
def test_card_labels_are_the_date_filters_in_the_events_zone(zone: str, language: str) -> None:
    # 02:05 UTC on a Sunday is Saturday evening in Buenos Aires: the zone decides the day.
    event = Event(pk=7, title="Board games", time_zone=zone, starts_at=datetime(2027, 1, 3, 2, 5, tzinfo=UTC))
    with translation.override(language):
        expected = Template(
            "{% load tz %}{% timezone event.time_zone %}{{ event.starts_at|date:'M' }}|{{ event.starts_at|date:'j' }}|"
            "{{ event.starts_at|date:'c' }}|{{ event.starts_at|date:'EVENT_SHORT_FORMAT' }}{% endtimezone %}"
        ).render(Context({"event": event}))
        card = event.card
    assert f"{card['month']}|{card['day']}|{card['iso']}|{card['when']}" == expected
    assert card["url"] == "/events/7/"
    assert card["community"] == ""
