"""Format modules per language (settings.FORMAT_MODULE_PATH), read before Django's own.

Beside Django's formats they name the formats of event times, so a template says what it shows
and the language says how: `{{ event.starts_at|date:"EVENT_DAY_TIME_FORMAT" }}` inside
`{% timezone event.time_zone %}`, or `{{ event|event_when }}` (elonara.when) for a whole span with
its zone. Every language of settings.LANGUAGES defines every name: a name missing in a language
would be printed as a format string (tests/config/test_formats.py checks them all).
"""

EVENT_FORMATS = ("EVENT_DAY_FORMAT", "EVENT_DAY_TIME_FORMAT", "EVENT_SHORT_FORMAT", "EVENT_TIME_FORMAT")
