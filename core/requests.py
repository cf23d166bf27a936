"""Request types for views that only members reach (`login_required`, `IsAuthenticated`).

For the type checker only: behind those guards `request.user` is a `Member` (the user model), never the anonymous
user, and annotating the view's request with these says so once instead of narrowing in every view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from rest_framework.request import Request

if TYPE_CHECKING:
    from core.users import Member


class MemberRequest(HttpRequest):
    user: Member


class MemberApiRequest(Request):
    user: Member
