"""`{% blank_form %}` (core.templatetags.forms_tags): an empty form drawn once per class and
language is the same HTML `_form.html` draws; a bound form, or one with initial values, is drawn
every time (its errors and values are someone's own)."""

from __future__ import annotations

from django.template import Context, Template
from django.template.loader import render_to_string
from django.utils import translation

from bluesky.forms import AppPasswordForm
from members.forms import ApiTokenForm

TAG = Template("{% load forms_tags %}{% blank_form form %}")


def test_an_empty_form_is_the_same_html_in_each_language():
    for language in ("en", "de", "ja"):
        with translation.override(language):
            for form_class in (ApiTokenForm, AppPasswordForm):
                expected = render_to_string("_form.html", {"form": form_class()})
                assert TAG.render(Context({"form": form_class()})) == expected
                assert TAG.render(Context({"form": form_class()})) == expected  # the kept copy
    with translation.override("de"):
        german = TAG.render(Context({"form": ApiTokenForm()}))
    assert german != TAG.render(Context({"form": ApiTokenForm()}))


def test_a_bound_form_shows_its_own_values_and_errors():
    TAG.render(Context({"form": ApiTokenForm()}))  # an empty one kept first
    bound = ApiTokenForm(data={"name": "My <script> tool", "permissions": []})
    html = TAG.render(Context({"form": bound}))
    assert "My &lt;script&gt; tool" in html and "This field is required." in html
    assert TAG.render(Context({"form": ApiTokenForm(initial={"name": "preset"})})).count('value="preset"') == 1
