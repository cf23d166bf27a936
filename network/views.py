from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.ratelimit import RateLimitedError, rate_limit_request
from elonara import ical
from elonara.errors import ElonaraError
from network import selectors, services
from network.forms import AnswerLinkForm, NetworkReportForm, NetworkRSVPForm, PasteLinkForm
from network.models import NetworkEvent
from network.services import NetworkEventError, OwnEventLinked


def _event_or_404(did: str, rkey: str) -> NetworkEvent:
    event = selectors.network_event_get(did=did, rkey=rkey)
    if event is None or event.blocked or event.creator.blocked:
        raise Http404("No such event here")
    return event


# A visitor with no cookie and no filter sees the same page as every other: served from the cache
# for this long (new network events arrive all the time; a minute late is fine for them).
ANONYMOUS_UPCOMING_SECONDS = 60
ANONYMOUS_UPCOMING_KEY = "network:upcoming:anonymous"


@require_GET
def upcoming(request):
    plain_visitor = (not request.user.is_authenticated and not request.GET
                     and settings.SESSION_COOKIE_NAME not in request.COOKIES and "messages" not in request.COOKIES)
    key = f"{ANONYMOUS_UPCOMING_KEY}:{get_language()}"
    if plain_visitor and (html := cache.get(key)) is not None:
        return HttpResponse(html)
    response = _upcoming(request)
    if plain_visitor:
        cache.set(key, response.content, ANONYMOUS_UPCOMING_SECONDS)
    return response


def _upcoming(request):
    filters = selectors.UpcomingFilters.from_query(request.GET)
    sync = selectors.follow_sync_get(member=request.user)
    if request.user.is_authenticated:
        services.member_follows_refresh_if_stale(member=request.user, sync=sync)
    # Whom the member blocks or mutes on Bluesky: kept a few minutes; "?blocks=fresh" reads them again.
    hidden = services.member_hidden_accounts(member=request.user, fresh=request.GET.get("blocks") == "fresh")
    items = selectors.upcoming_list(member=request.user, filters=filters, hidden_dids=hidden)
    return render(request, "network/upcoming.html", {
        "items": items, "filters": filters, "sync": sync, "paste_form": PasteLinkForm(),
        "languages": settings.LANGUAGES,
    })


@login_required
@require_http_methods(["GET", "POST"])
def paste(request):
    form = PasteLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rate_limit_request(request, "network_paste")
            event = services.network_event_fetch(link=form.cleaned_data["link"])
        except OwnEventLinked as own:
            return redirect(own.event)
        except (NetworkEventError, RateLimitedError) as error:
            form.add_error("link", error.message)
        else:
            return redirect(event)
    return render(request, "network/paste.html", {"form": form})


def event_detail(request, did, rkey):
    event = _event_or_404(did, rkey)
    services.creators_refresh_stale(creators=[event.creator])
    hidden_accounts = services.member_hidden_accounts(member=request.user,
                                                      fresh=request.GET.get("blocks") == "fresh")
    hidden_reason = selectors.network_event_hidden_reason(event=event, hidden_dids=hidden_accounts)
    if hidden_reason:
        # Said, not a 404: the member followed a link and should know why there is nothing to see.
        return render(request, "network/hidden.html", {"event": event, "reason": hidden_reason})
    rsvp = selectors.network_rsvp_for(event=event, member=request.user)
    blocked = [d for d, why in hidden_accounts.items() if why == "block"]
    return render(request, "network/event_detail.html", {
        "event": event, "creator": event.creator, "rsvp": rsvp,
        "rsvp_form": NetworkRSVPForm(initial={"status": rsvp.status if rsvp else "going"}),
        "member_answers": selectors.network_member_answers(event=event, blocked_dids=blocked),
        "hidden": selectors.creator_is_hidden(creator_id=event.creator_id, member=request.user),
        "report_form": NetworkReportForm(),
    })


@require_POST
@login_required
def event_rsvp(request, did, rkey):
    event = _event_or_404(did, rkey)
    form = NetworkRSVPForm(request.POST)
    if form.is_valid():
        try:
            rsvp = services.network_rsvp_set(event=event, member=request.user, status=form.cleaned_data["status"])
        except ElonaraError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Your answer: %(answer)s.") % {"answer": rsvp.get_status_display()})
    else:
        messages.error(request, _("Choose going, maybe or not going."))
    return redirect(event)


@require_GET
def event_ics(request, did, rkey):
    event = _event_or_404(did, rkey)
    body = ical.calendar_build(events=[event], name=event.name, uid=event.ical_uid, feed=False)
    response = HttpResponse(body, content_type=ical.CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{slugify(event.name)[:60] or "event"}.ics"'
    return response


@require_POST
@login_required
def creator_hide(request, did, rkey):
    event = _event_or_404(did, rkey)
    if request.POST.get("undo"):
        services.creator_unhide(member=request.user, creator=event.creator)
        messages.success(request, _("Their events show on Upcoming again."))
        return redirect(event)
    services.creator_hide(member=request.user, creator=event.creator)
    messages.success(request, _("You will not see events by %(creator)s on Upcoming.")
                     % {"creator": event.creator.name})
    return redirect("network:upcoming")


@require_POST
@login_required
def event_report(request, did, rkey):
    event = _event_or_404(did, rkey)
    form = NetworkReportForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose why you report this event."))
        return redirect(event)
    try:
        rate_limit_request(request, "network_report")
        services.network_event_report(event=event, member=request.user, reason=form.cleaned_data["reason"],
                                      note=form.cleaned_data["note"])
    except (ElonaraError, RateLimitedError) as error:
        messages.error(request, error.message)
        return redirect(event)
    messages.success(request, _("Thank you: staff will look at this event."))
    return redirect(event)


@require_GET
def answer_link(request):
    """ "Answer this event": another app links here with `?uri=at://...` of any calendar event; we
    read it (as a pasted link is read) and show its page, with the answer buttons."""
    form = AnswerLinkForm(request.GET or None)
    if form.is_valid():
        try:
            rate_limit_request(request, "network_paste")
            event = services.network_event_fetch(link=form.cleaned_data["uri"])
        except OwnEventLinked as own:
            return redirect(own.event)
        except (NetworkEventError, RateLimitedError) as error:
            form.add_error("uri", error.message)
        else:
            return redirect(event)
    return render(request, "network/answer.html", {"form": form}, status=400 if request.GET else 200)
