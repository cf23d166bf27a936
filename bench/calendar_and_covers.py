"""Benchmark: building calendar files and processing cover images. Prints figures, asserts nothing.

- a member's private feed with N events across several time zones, through the real view
  (cold: VTIMEZONEs built; warm: cached), and one event's "Add to calendar" file;
- a cover upload (a 4000x3000 photo-like JPEG) validated, resized and re-encoded.

Uses DATABASE_URL when set (make bench: private PostgreSQL), else a temporary SQLite file.

    [. DIR/services.env;] .venv/bin/python bench/calendar_and_covers.py [EVENTS]
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "America/Sao_Paulo", "UTC"]


def _timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    workdir = tempfile.TemporaryDirectory(prefix="bench-cal-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir.name}/bench.sqlite3")
    os.environ["MEDIA_ROOT"] = f"{workdir.name}/media"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.utils import timezone
    from PIL import Image

    from elonara import ical, services
    from members.models import Member

    setup_test_environment()  # the test Client's host name is allowed
    call_command("migrate", verbosity=0, interactive=False)
    try:
        host = Member.objects.create_user(username=f"bench{time.time_ns()}", password="x" * 20)
        start = timezone.now() + timedelta(days=1)
        for i in range(count):
            begins = start + timedelta(days=i % 700, hours=i % 24)
            services.event_create(host=host, title=f"Event {i}", starts_at=begins, ends_at=begins + timedelta(hours=2),
                                  time_zone=ZONES[i % len(ZONES)], venue="Hall", description="Bring a friend.")
        _feed, token = services.calendar_feed_issue(member=host)
        client = Client()
        url = f"/calendar/feed/{token}.ics"

        ical._vtimezone_ical.cache_clear()
        cold = _timed(lambda: client.get(url), 1)[0]
        warm = _timed(lambda: client.get(url), 10)
        size = len(client.get(url).content)
        event_pk = host.hosted_events.first().pk
        single = _timed(lambda: client.get(f"/events/{event_pk}/calendar.ics"), 20)
        print(f"member feed, {count} events in {len(ZONES)} zones over 2 years: {size / 1024:.0f} KiB")
        print(f"  cold (VTIMEZONEs built): {cold * 1000:.0f} ms")
        print(f"  warm: median {statistics.median(warm) * 1000:.0f} ms, max {max(warm) * 1000:.0f} ms (10 runs)")
        print(f"one event's .ics: median {statistics.median(single) * 1000:.1f} ms (20 runs)")

        photo = Image.effect_noise((4000, 3000), 40).convert("RGB")
        buffer = io.BytesIO()
        photo.save(buffer, format="JPEG", quality=90)
        data = buffer.getvalue()
        event = host.hosted_events.first()
        times = _timed(lambda: services.event_update(
            event=event, editor=host, image=SimpleUploadedFile("p.jpg", data, content_type="image/jpeg")), 5)
        stored = Path(os.environ["MEDIA_ROOT"], event.image.name).stat().st_size
        print(f"cover 4000x3000 JPEG ({len(data) / 1e6:.1f} MB) -> {event.image_width}x{event.image_height} "
              f"JPEG ({stored / 1e3:.0f} kB): median {statistics.median(times) * 1000:.0f} ms (5 runs)")
    finally:
        if "bench.sqlite3" not in os.environ["DATABASE_URL"]:
            from elonara.models import Event

            Event.objects.filter(host__username__startswith="bench").delete()
            Member.objects.filter(username__startswith="bench").delete()
        workdir.cleanup()


if __name__ == "__main__":
    main()
