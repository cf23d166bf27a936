"""`{% blank_form form %}`: a new, empty form drawn as `_form.html` draws any form, once per form
class and language in each process. An empty form whose fields do not depend on data (no
database choices, no initial values) is the same for every member, and drawing a form's widgets
costs a page more than the rest of it (about a millisecond for a form of four fields)."""

from __future__ import annotations

from django import forms, template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import get_language

register = template.Library()

_drawn: dict[tuple[type, str], SafeString] = {}


@register.simple_tag
def blank_form(form: forms.Form) -> SafeString:
    if form.is_bound or form.initial or form.prefix or any(f.initial is not None for f in form.fields.values()):
        return render_to_string("_form.html", {"form": form})  # not the same for everyone: drawn each time
    key = (type(form), get_language() or "")
    html = _drawn.get(key)
    if html is None:
        html = _drawn[key] = render_to_string("_form.html", {"form": form})
    return html
