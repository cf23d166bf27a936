"""Messages marked for translation (issue 39) stay what English readers saw, and become plain text
when they are said: an error is pickled by Celery and compared as text."""

from __future__ import annotations

import pickle

from django.template import Context, Template

from bluesky.errors import NotConnectedError
from core.errors import ApplicationError, ServiceUnavailable
from core.ratelimit import Limit, RateLimitedError


def test_an_errors_marked_default_message_is_plain_text_in_english():
    for error, said in ((ApplicationError(), "Something went wrong."),
                        (NotConnectedError(), "Connect your Bluesky account first.")):
        assert type(error.message) is str and error.message == said
    assert pickle.loads(pickle.dumps(ServiceUnavailable())).message.startswith("Elonara cannot reach its database")


def test_the_rate_limits_refusal_counts_minutes():
    limit = Limit(name="login", count=5, per_seconds=600)
    assert RateLimitedError(limit=limit, retry_after=30).message == "Too many attempts. Please try again in 1 minute."
    assert RateLimitedError(limit=limit, retry_after=150).message == "Too many attempts. Please try again in 3 minutes."


def test_missing_features_are_joined_as_a_sentence():
    template = Template("{% load bluesky_tags %}{{ items|join_words }}")
    said = [template.render(Context({"items": items})) for items in ([], ["a"], ["a", "b"], ["a", "b", "c"])]
    assert said == ["", "a", "a and b", "a, b and c"]
