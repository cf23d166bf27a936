"""Templates whose constant `{% translate %}` and `{% url %}` tags keep what they gave.

A page's fixed words and links are most of its tags (the own profile has 42 `{% translate %}` and
ten `{% url %}` with no variable in them), and Django works each one out again on every render: a
translation looks up the language through a context-local, then the catalogue, then escapes (about
12 µs); a URL is reversed (about 30 µs). Their output depends on nothing a page holds: a constant
message on the language (and autoescaping), a constant URL on the script prefix, URLconf and
current application. Each such tag keeps its output under those and gives it again, as
`{% blank_form %}` keeps an empty form. A tag with a variable in it renders as Django's does.

`Loader` is Django's cached loader that marks the tags once, when it first compiles a template;
templates keep `{% load i18n %}` and makemessages reads them as before.
"""

from __future__ import annotations

from typing import Any

from django.template import Context, Template
from django.template.base import FilterExpression
from django.template.defaulttags import URLNode
from django.template.loaders import cached
from django.templatetags.i18n import TranslateNode
from django.urls import get_script_prefix, get_urlconf
from django.utils.html import conditional_escape
from django.utils.translation import get_language


class KeptTranslateNode(TranslateNode):
    """`{% translate "..." %}` (with a literal context or none, and no `as`), kept per language."""

    kept: dict[tuple[str | None, bool], str]

    def render(self, context: Context) -> str:
        key = (get_language(), context.autoescape)
        output = self.kept.get(key)
        if output is None:
            output = self.kept[key] = super().render(context)
        return output


class KeptURLNode(URLNode):
    """`{% url 'name' 'literal' ... %}`, kept per script prefix, URLconf and current application."""

    kept: dict[tuple[str, Any, str | None], str]

    def render(self, context: Context) -> str:
        key = (get_script_prefix(), get_urlconf(), _current_app(context))
        url = self.kept.get(key)
        if url is None:
            url = self.kept[key] = self._reversed(context)
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url

    def _reversed(self, context: Context) -> str:
        # Django's render, the address unescaped ("" when it cannot be reversed with `as`).
        if self.asvar:
            super().render(context)
            return context[self.asvar]
        autoescape, context.autoescape = context.autoescape, False
        try:
            return str(super().render(context))
        finally:
            context.autoescape = autoescape


def _current_app(context: Context) -> str | None:
    # As URLNode finds it: the request's own, else the namespace it resolved to.
    request = getattr(context, "request", None)
    current_app = getattr(request, "current_app", None)
    if current_app is None:
        current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
    return current_app


def _is_literal(expression: FilterExpression | None) -> bool:
    if expression is None:
        return True
    var = expression.var
    if isinstance(var, str):  # a quoted string
        return not expression.filters
    # A Variable: TranslateNode wraps its message in one; a number is one; _("...") is translated.
    return getattr(var, "literal", None) is not None and not var.translate and not expression.filters


def keep_constants(template: Template) -> None:
    """Turns the template's constant `{% translate %}` and `{% url %}` tags into kept ones."""
    for node in template.nodelist.get_nodes_by_type(TranslateNode):
        if (type(node) is TranslateNode and node.asvar is None and _is_literal(node.filter_expression)
                and _is_literal(node.message_context)):
            node.__class__ = KeptTranslateNode
            node.kept = {}  # type: ignore[attr-defined]
    for node in template.nodelist.get_nodes_by_type(URLNode):
        if (type(node) is URLNode and _is_literal(node.view_name) and all(map(_is_literal, node.args))
                and all(map(_is_literal, node.kwargs.values()))):
            node.__class__ = KeptURLNode
            node.kept = {}  # type: ignore[attr-defined]


class Loader(cached.Loader):
    """Django's cached loader, each template's constant tags kept (marked once, when compiled)."""

    def get_template(self, template_name: str, skip: list[Any] | None = None) -> Template:
        template = super().get_template(template_name, skip)
        if not getattr(template, "constants_kept", False):
            keep_constants(template)
            template.constants_kept = True  # type: ignore[attr-defined]
        return template
