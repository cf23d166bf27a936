"""core.template_constants: constant {% translate %} tags keep their output and {% url %} tags their
addresses, and give what Django's tags give in every language, script prefix and escaping; a
translation with a variable stays Django's."""

from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Engine, engines
from django.template.defaulttags import URLNode
from django.templatetags.i18n import TranslateNode
from django.templatetags.static import StaticNode, static
from django.urls import reverse, set_script_prefix
from django.utils import translation

from core.template_constants import KeptStaticNode, KeptTranslateNode, KeptURLNode

LOADERS = ["django.template.loaders.locmem.Loader"]


def engine(**templates: str) -> Engine:
    return Engine(loaders=[("core.template_constants.Loader", [(LOADERS[0], templates)])],
                  libraries={"i18n": "django.templatetags.i18n", "static": "django.templatetags.static"})


def nodes(template, kind):
    return template.template.nodelist.get_nodes_by_type(kind) if hasattr(template, "template") \
        else template.nodelist.get_nodes_by_type(kind)


def test_a_constant_translation_follows_the_language_it_is_rendered_in():
    page = engine(page='{% load i18n %}{% translate "Log out" %}|{% translate "Change" context "language menu" %}'
                  ).get_template("page")
    assert [type(node) for node in nodes(page, TranslateNode)] == [KeptTranslateNode] * 2
    said = {}
    for language in ["de", "en", "de", "ja", "en"]:
        with translation.override(language):
            got = page.render(Context())
            expected = f"{translation.gettext('Log out')}|{translation.pgettext('language menu', 'Change')}"
        assert got == expected
        said.setdefault(language, got)
    assert said["de"].startswith("Abmelden|") and said["en"] == "Log out|Change" and said["ja"] != said["en"]


def test_a_translation_with_a_variable_or_as_is_django_s_own():
    page = engine(page='{% load i18n %}{% translate word %}{% translate "Log out" as label %}[{{ label }}]'
                  ).get_template("page")
    assert {type(node) for node in nodes(page, TranslateNode)} == {TranslateNode}
    with translation.override("de"):
        assert page.render(Context({"word": "Log out"})) == "Abmelden[Abmelden]"
        assert page.render(Context({"word": "Home"})) == f"{translation.gettext('Home')}[Abmelden]"


def test_a_constant_url_follows_the_script_prefix_and_escaping():
    page = engine(page="{% url 'community-detail' 'a-b' %}|{% url 'privacy' as p %}{{ p }}|"
                       "{% autoescape off %}{% url 'terms' %}{% endautoescape %}").get_template("page")
    assert [type(node) for node in nodes(page, URLNode)] == [KeptURLNode] * 3
    try:
        for prefix in ["/", "/sub/", "/"]:
            set_script_prefix(prefix)
            expected = f"{reverse('community-detail', args=['a-b'])}|{reverse('privacy')}|{reverse('terms')}"
            assert page.render(Context()) == expected
            assert expected.startswith(prefix + "communities/")
    finally:
        set_script_prefix("/")


def test_a_url_with_variables_gives_each_value_its_own_address():
    page = engine(page="{% url 'community-detail' slug %}|{% url 'event-detail' pk=pk %}|{% url name %}"
                  ).get_template("page")
    assert {type(node) for node in nodes(page, URLNode)} == {KeptURLNode}
    for slug, pk, name in [("one", 1, "terms"), ("two", 2, "privacy"), ("one", 1, "terms")]:
        assert page.render(Context({"slug": slug, "pk": pk, "name": name})) == (
            f"{reverse('community-detail', args=[slug])}|{reverse('event-detail', kwargs={'pk': pk})}|{reverse(name)}")


def test_a_url_that_cannot_be_reversed_with_as_gives_nothing():
    page = engine(page="{% url 'event-detail' pk as address %}[{{ address }}]").get_template("page")
    assert page.render(Context({"pk": "not-a-number"})) == "[]"
    assert page.render(Context({"pk": 3})) == f"[{reverse('event-detail', args=[3])}]"


def test_a_constant_url_that_cannot_be_reversed_still_fails_loudly():
    from django.urls import NoReverseMatch

    page = engine(page="{% url 'no-such-page' %}").get_template("page")
    with pytest.raises(NoReverseMatch):
        page.render(Context())


def test_every_constant_tag_of_the_site_s_templates_is_kept():
    # The site's engine loads through the loader: a template added later is marked too, and a
    # setting that drops the loader fails here.
    django_engine = engines["django"].engine
    names = sorted(str(path.relative_to(directory)) for directory in settings.TEMPLATES[0]["DIRS"]
                   for path in Path(directory).rglob("*.html"))
    kept = 0
    for name in names:
        template = django_engine.get_template(name)
        for node in template.nodelist.get_nodes_by_type(TranslateNode):
            literal = isinstance(getattr(node.filter_expression.var, "literal", None), str)
            if literal and node.asvar is None and not node.filter_expression.filters:
                assert type(node) is KeptTranslateNode, (name, node.token.contents)
                kept += 1
        for node in template.nodelist.get_nodes_by_type(URLNode):
            assert type(node) is KeptURLNode, (name, node.token.contents)
            kept += 1
        for node in template.nodelist.get_nodes_by_type(StaticNode):
            assert type(node) is KeptStaticNode, (name, node.token.contents)
            kept += 1
    assert len(names) > 80 and kept > 500


def test_a_static_address_follows_the_script_prefix():
    page = engine(page="{% load static %}{% static 'css/elonara.css' %}").get_template("page")
    assert [type(node) for node in nodes(page, StaticNode)] == [KeptStaticNode]
    try:
        for prefix in ["/", "/sub/", "/"]:
            set_script_prefix(prefix)
            assert page.render(Context()) == static("css/elonara.css")
    finally:
        set_script_prefix("/")
