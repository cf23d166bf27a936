"""Templates whose constant `{% translate %}` and `{% static %}` tags keep what they gave, and whose
`{% url %}` tags keep their addresses.

A page's fixed words and links are most of its tags (the own profile has 42 `{% translate %}` and
a dozen `{% url %}`), and Django works each one out again on every render: a translation looks up
the language through a context-local, then the catalogue, then escapes (about 12 µs); a URL is
reversed (about 30 µs). A constant message's output depends only on the language (and
autoescaping): each such tag keeps it per language and gives it again, as `{% blank_form %}` keeps
an empty form; a message with a variable renders as Django's does. A URL's address depends on its
view name and arguments (and the script prefix, URLconf and current application): `{% url %}`
takes it from `core.paths.path_for`, which keeps it. A static file's address (a lookup in the
storage's manifest) is kept per script prefix.

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
from django.templatetags.static import StaticNode
from django.urls import NoReverseMatch, get_script_prefix
from django.utils.html import conditional_escape
from django.utils.translation import get_language

from core.paths import path_for


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
    """`{% url %}` with its address from `core.paths.path_for` (kept per view name, arguments,
    script prefix, URLconf and current application)."""

    def render(self, context: Context) -> str:
        # URLNode.render, with the address kept.
        args = [arg.resolve(context) for arg in self.args]
        kwargs = {name: value.resolve(context) for name, value in self.kwargs.items()}
        url = ""
        try:
            url = path_for(self.view_name.resolve(context), args, kwargs, _current_app(context))
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


class KeptStaticNode(StaticNode):
    """`{% static "..." %}` of a literal path, its address kept per script prefix (the storage's
    manifest does not change while the process runs)."""

    kept: dict[str, str]

    def url(self, context: Context) -> str:
        prefix = get_script_prefix()
        url = self.kept.get(prefix)
        if url is None:
            url = self.kept[prefix] = super().url(context)
        return url


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
    """Turns the template's constant `{% translate %}` and `{% static %}` tags and all its `{% url %}`
    tags into kept ones."""
    for node in template.nodelist.get_nodes_by_type(TranslateNode):
        if (type(node) is TranslateNode and node.asvar is None and _is_literal(node.filter_expression)
                and _is_literal(node.message_context)):
            node.__class__ = KeptTranslateNode
            node.kept = {}  # type: ignore[attr-defined]
    for node in template.nodelist.get_nodes_by_type(URLNode):
        if type(node) is URLNode:
            node.__class__ = KeptURLNode
    for node in template.nodelist.get_nodes_by_type(StaticNode):
        if type(node) is StaticNode and _is_literal(node.path):
            node.__class__ = KeptStaticNode
            node.kept = {}  # type: ignore[attr-defined]


class Loader(cached.Loader):
    """Django's cached loader, each template's tags marked by `keep_constants` once, when compiled."""

    def get_template(self, template_name: str, skip: list[Any] | None = None) -> Template:
        template = super().get_template(template_name, skip)
        if not getattr(template, "constants_kept", False):
            keep_constants(template)
            template.constants_kept = True  # type: ignore[attr-defined]
        return template
