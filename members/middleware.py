"""Who is signed in, read from the cache: Django's authentication middleware reads the member's
row from the database on every request that asks who it is (every page with a header, every API
call); here a kept copy of the row answers, in one cache round trip after the session's.

The copy is kept under the member's own version (core.page_cache.VIEWER), renewed by every change
to their row (saves, deletes, `update()`), so a password change, a deactivation or a deletion is
seen at once. It holds the row without its password hash (no hash ever reaches the cache), and
the session hash the row gave when it was read: a session is taken only if it holds that same
hash, as Django checks. Anything else (no copy, another hash, a session of another backend) goes
Django's own way, which also ends a stale session.
"""

from __future__ import annotations

import copy
import hmac

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from core.page_cache import PAGE_CACHE_SECONDS, VIEWER, page_key, page_version_key, versions_current

# The cached row leaves out the password hash: read from the database if ever needed.
_FIELDS_NOT_KEPT = ("password",)


class CachedAuthenticationMiddleware(AuthenticationMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: signed_in_member(request))  # type: ignore[assignment]


def signed_in_member(request: HttpRequest) -> AbstractBaseUser | AnonymousUser:
    """The member the session names, as `django.contrib.auth.get_user` finds them."""
    # Where Django's own middleware keeps it: code that asks Django (login, logout) finds it too.
    known = getattr(request, "_cached_user", None)
    if known is not None:
        return known
    session = request.session
    member_id = session.get(auth.SESSION_KEY)
    session_hash = session.get(auth.HASH_SESSION_KEY)
    if (not isinstance(member_id, str | int) or not str(member_id).isdigit()
            or not isinstance(session_hash, str) or not session_hash.isascii() or not session_hash
            or session.get(auth.BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS):
        return _remembered(request, auth.get_user(request))
    member_id = int(member_id)
    key, version_key = page_key("member", member_id), page_version_key(VIEWER, member_id)
    found = cache.get_many([key, version_key])
    version, kept = found.get(version_key), found.get(key)
    if kept is not None and version is not None and kept[0] == version and hmac.compare_digest(kept[1], session_hash):
        return _remembered(request, kept[2])
    (version,) = versions_current([version_key], found)
    # Read after the version: a change meanwhile renews it, and this copy is never served.
    user = auth.get_user(request)
    if user.is_authenticated and user.pk == member_id and version is not None:
        cache.set(key, (version, user.get_session_auth_hash(), member_without_password(user)), PAGE_CACHE_SECONDS)
    return _remembered(request, user)


def _remembered(request: HttpRequest, user: AbstractBaseUser | AnonymousUser) -> AbstractBaseUser | AnonymousUser:
    setattr(request, "_cached_user", user)  # noqa: B010 - an attribute HttpRequest does not declare
    return user


def member_without_password(user: AbstractBaseUser) -> AbstractBaseUser:
    kept = copy.copy(user)
    # What pages ask of the hash, kept instead of it (Member.has_usable_password).
    kept.password_was_usable = user.has_usable_password()  # type: ignore[attr-defined]
    for name in _FIELDS_NOT_KEPT:
        kept.__dict__.pop(name, None)  # a deferred field now: read from the database if asked for
    return kept
