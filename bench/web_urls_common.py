"""The app's URLs plus a bare view served through the same middleware: the page benchmark's floor."""

from django.template import engines
from django.template.response import TemplateResponse
from django.urls import include, path

# A short template, rendered with the request's context like a page, touching no database row.
BARE = engines["django"].from_string(
    "<!doctype html><html lang=\"en\"><head><title>{{ title }}</title></head>"
    "<body><h1>{{ title }}</h1><ul>{% for item in items %}<li>{{ item }}</li>{% endfor %}</ul></body></html>")


def bare(request):
    return TemplateResponse(request, BARE, {"title": "Bare", "items": ["one", "two", "three"]})


urlpatterns = [path("bench/bare/", bare), path("", include("config.urls"))]
