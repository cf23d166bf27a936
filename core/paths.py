"""A page's address by its view's name and arguments, kept once reversed.

Django's `reverse` takes about 30 µs, and a page's lists ask it once per row (each event of the
home's plans, of a calendar feed, each community), its templates once per `{% url %}`: a cold
build of the member home asked it 16 times. The address of a view with given arguments does not
change while the process runs, under the same script prefix and URLconf, so it is kept (a bounded
number: rows come and go). Arguments other than strings and integers are reversed each time.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.urls import get_script_prefix, get_urlconf, reverse


def page_path(view_name: str, *args: Any, **kwargs: Any) -> str:
    """`reverse(view_name, args=args, kwargs=kwargs)`, kept."""
    return path_for(view_name, args, kwargs)


def path_for(view_name: str, args: tuple[Any, ...] | list[Any], kwargs: dict[str, Any],
             current_app: str | None = None) -> str:
    """`reverse()`'s answer, kept when every argument is a string or an integer."""
    if not all(type(value) in (str, int) for value in (*args, *kwargs.values())):
        return reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)
    return _reversed(view_name, tuple(args), tuple(sorted(kwargs.items())), current_app, get_script_prefix(),
                     get_urlconf())


@lru_cache(maxsize=20_000)
def _reversed(view_name: str, args: tuple[Any, ...], kwargs: tuple[tuple[str, Any], ...], current_app: str | None,
              _prefix: str, _urlconf: Any) -> str:
    # The prefix and URLconf are in the key only: reverse() reads them itself.
    return reverse(view_name, args=args, kwargs=dict(kwargs), current_app=current_app)
