"""core.paths.page_path: the address reverse() gives, kept per script prefix and URLconf."""

import pytest
from django.urls import NoReverseMatch, reverse, set_script_prefix

from core.paths import page_path


def test_it_gives_what_reverse_gives_for_arguments_and_keywords():
    assert page_path("event-detail", 12) == reverse("event-detail", args=[12])
    assert page_path("event-detail", pk=13) == reverse("event-detail", kwargs={"pk": 13})
    assert page_path("community-detail", "a-b") == reverse("community-detail", args=["a-b"]) != page_path(
        "community-detail", "c-d")


def test_it_follows_the_script_prefix():
    try:
        for prefix in ["/", "/sub/", "/"]:
            set_script_prefix(prefix)
            assert page_path("event-detail", 7) == reverse("event-detail", args=[7])
            assert page_path("event-detail", 7).startswith(prefix + "events/")
    finally:
        set_script_prefix("/")


def test_an_address_that_does_not_exist_still_fails():
    with pytest.raises(NoReverseMatch):
        page_path("event-detail", "not-a-number")


def test_an_argument_other_than_a_string_or_an_integer_is_reversed_each_time():
    class Slug:
        def __init__(self, text):
            self.text = text

        def __str__(self):
            return self.text

    assert page_path("community-detail", Slug("x-y")) == reverse("community-detail", args=["x-y"])
    assert page_path("community-detail", Slug("z")) == reverse("community-detail", args=["z"])
