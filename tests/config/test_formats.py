"""Event times per language (config/formats, elonara.when), on one fixed instant: Saturday
3 July 2027, 19:30-21:00 in Tokyo (10:30 UTC)."""

from datetime import UTC, datetime
from importlib import import_module

import pytest
from django.conf import settings
from django.template import Context, Template
from django.utils import translation
from django.utils.translation import to_locale

from config.formats import EVENT_FORMATS
from elonara.when import event_when

START = datetime(2027, 7, 3, 10, 30, tzinfo=UTC)
END = datetime(2027, 7, 3, 12, 0, tzinfo=UTC)
ZONE = "Asia/Tokyo"


@pytest.mark.parametrize("code", [code for code, _ in settings.LANGUAGES])
def test_every_language_names_every_event_format(code):
    module = import_module(f"config.formats.{to_locale(code)}.formats")
    assert all(isinstance(getattr(module, name, None), str) for name in EVENT_FORMATS)


@pytest.mark.parametrize(("code", "expected"), [
    ("en", "Saturday 3 July 2027, 19:30–21:00, Tokyo time (UTC+9)"),
    ("ja", "2027年7月3日(土) 19:30–21:00, Tokyo時間（UTC+9）"),
    ("de", "Samstag, 3. Juli 2027, 19:30–21:00, Ortszeit Tokyo (UTC+9)"),
    ("es", "sábado, 3 de julio de 2027, 19:30–21:00, hora de Tokyo (UTC+9)"),
    ("pt-br", "Sábado, 3 de Julho de 2027, 19:30–21:00, horário de Tokyo (UTC+9)"),
])
def test_event_when_in_each_language(code, expected):
    with translation.override(code):
        assert event_when(starts_at=START, ends_at=END, time_zone=ZONE) == expected


@pytest.mark.parametrize(("code", "expected"), [
    ("en", "Sat 3 Jul 2027, 19:30 – Sun 4 Jul 2027, 21:00, Tokyo time (UTC+9)"),
    ("ja", "2027年7月3日(土) 19:30 – 2027年7月4日(日) 21:00, Tokyo時間（UTC+9）"),
    ("de", "Sa., 3. Jul 2027, 19:30 – So., 4. Jul 2027, 21:00, Ortszeit Tokyo (UTC+9)"),
])
def test_event_when_short_over_two_days(code, expected):
    with translation.override(code):
        ends = END.replace(day=4)
        assert event_when(starts_at=START, ends_at=ends, time_zone=ZONE, short=True) == expected


@pytest.mark.parametrize(("code", "expected"), [
    ("en", "Saturday 3 July 2027, 19:30"),
    ("ja", "2027年7月3日(土) 19:30"),
    ("de", "Samstag, 3. Juli 2027, 19:30"),
    ("es", "sábado, 3 de julio de 2027, 19:30"),
    ("pt-br", "Sábado, 3 de Julho de 2027, 19:30"),
])
def test_templates_name_the_format_and_the_language_shapes_it(code, expected):
    template = Template('{% load tz %}{% timezone zone %}{{ at|date:"EVENT_DAY_TIME_FORMAT" }}{% endtimezone %}')
    with translation.override(code):
        assert template.render(Context({"at": START, "zone": ZONE})) == expected
