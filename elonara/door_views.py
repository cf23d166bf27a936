"""The door: a guest's ticket page and the host's check-in page with its two small JSON answers.

Thin adapters over `elonara.checkin` (which decides) and `elonara.tickets` (codes and QR images).
None of these pages is kept in the page cache: they show what the door looks like this second.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from elonara import checkin, selectors
from elonara.errors import ElonaraError, NotAllowedError
from elonara.models import RSVP, Event
from elonara.tickets import ticket_qr_svg


def _door_event(request, pk: int) -> Event:
    event = get_object_or_404(Event.objects.select_related("host"), pk=pk)
    if not selectors.event_can_manage(event=event, member=request.user):
        raise PermissionDenied("Only the host or a co-host can check guests in.")
    return event


def _qr_title(event: Event) -> str:
    return gettext("Ticket QR code for %(title)s") % {"title": event.title}


def _when(result: checkin.CheckinResult, event: Event) -> str:
    return f"{result.checked_in_at.astimezone(event.zone):%H:%M}"


def _said(result: checkin.CheckinResult, event: Event) -> str:
    if result.already:
        return gettext("%(name)s is already checked in (at %(when)s).") % {"name": result.name,
                                                                            "when": _when(result, event)}
    return gettext("%(name)s is checked in.") % {"name": result.name}


@never_cache
@login_required
@require_GET
def event_ticket(request, pk):
    """The signed-in guest's own ticket: no code in the address, so the link in a mail or a
    calendar entry gives nothing away to whoever else reads it."""
    event = get_object_or_404(Event.objects.select_related("host"), pk=pk)
    rsvp = RSVP.objects.filter(event=event, member=request.user).select_related("checkin").first()
    if rsvp is None or rsvp.status != RSVP.Status.GOING:
        return render(request, "elonara/event_ticket.html", {"event": event, "rsvp": rsvp}, status=404)
    code = checkin.rsvp_ticket_code(rsvp=rsvp)
    return render(request, "elonara/event_ticket.html", {
        "event": event, "rsvp": rsvp, "code": code,
        "qr_svg": ticket_qr_svg(code=code, title=_qr_title(event)),
        "checked_in": getattr(rsvp, "checkin", None),
    })


@login_required
@require_GET
def event_ticket_qr(request, pk):
    """The signed-in guest's ticket as an SVG image, for the event page's folded "Your ticket":
    drawing a QR code costs more than the rest of that page's own part, so the page links it and
    only a guest who opens the ticket pays. Kept by their browser only (the code is theirs)."""
    rsvp = (RSVP.objects.filter(event_id=pk, member=request.user, status=RSVP.Status.GOING)
            .select_related("event").first())
    if rsvp is None:
        raise Http404("No ticket.")
    svg = ticket_qr_svg(code=checkin.rsvp_ticket_code(rsvp=rsvp), title=_qr_title(rsvp.event))
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    # The code never changes for an answer; a guest who stops going is refused at the door anyway.
    response["Cache-Control"] = "private, max-age=86400"
    return response


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def event_checkin(request, pk):
    """The check-in page: the camera scanner (where the browser has one) posts to
    `event_checkin_take`; the search and its "Check in" buttons work without any script."""
    event = _door_event(request, pk)
    query = request.GET.get("q", "")[:100]
    if request.method == "POST":
        query = request.POST.get("q", "")[:100]
        try:
            result = checkin.checkin_take(event=event, actor=request.user, code=request.POST.get("code", "")[:200],
                                          rsvp_id=_int(request.POST.get("rsvp")))
        except NotAllowedError as error:
            raise PermissionDenied(error.message) from error
        except ElonaraError as error:
            messages.error(request, error.message)
        else:
            (messages.warning if result.already else messages.success)(request, _said(result, event))
        url = reverse("event-checkin", args=[event.pk])
        return redirect(f"{url}?q={query}" if query else url)
    response = render(request, "elonara/event_checkin.html", {
        "event": event,
        "query": query,
        "guests": checkin.checkin_search(event=event, query=query),
        "counts": checkin.checkin_counts(event=event),
    })
    # The one page that may use the camera (to scan tickets); every other page keeps it off.
    response.headers["Permissions-Policy"] = settings.PERMISSIONS_POLICY.replace("camera=()", "camera=(self)")
    return response


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError as error:
        raise Http404("No such answer.") from error


@never_cache
@login_required
@require_POST
def event_checkin_take(request, pk):
    """The scanner's check-in: JSON in the same words as the page. Only a 200 with `ok` true
    means someone was let in; the page treats anything else (or no answer) as not checked in."""
    event = _door_event(request, pk)
    try:
        result = checkin.checkin_take(event=event, actor=request.user, code=request.POST.get("code", "")[:200])
    except NotAllowedError as error:
        raise PermissionDenied(error.message) from error
    except checkin.CheckinRefused as error:
        return JsonResponse({"ok": False, "reason": error.reason, "message": error.message}, status=409)
    counts = checkin.checkin_counts(event=event)
    return JsonResponse({"ok": True, "already": result.already, "name": result.name,
                         "at": _when(result, event), "message": _said(result, event),
                         "checked_in": counts.checked_in, "going": counts.going})


@never_cache
@login_required
@require_GET
def event_checkin_counts(request, pk):
    """Checked in and going, polled every few seconds by the check-in page."""
    counts = checkin.checkin_counts(event=_door_event(request, pk))
    return JsonResponse({"checked_in": counts.checked_in, "going": counts.going})
