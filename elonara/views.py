import csv
import hashlib
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.functional import Promise
from django.utils.http import http_date
from django.utils.text import slugify
from django.utils.translation import get_language, gettext, gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bluesky import selectors as bluesky_selectors
from core.i18n import member_language
from core.media import media_url_seconds
from core.page_cache import page_response
from core.ratelimit import RateLimitedError
from elonara import announcements as announcement_services
from elonara import (
    cards,
    community_page,
    event_page,
    host_messages,
    ical,
    publishing,
    questions,
    recurrence,
    selectors,
    services,
)
from elonara import conversation as conversation_services
from elonara import series as series_services
from elonara.community_page import CalendarFile
from elonara.errors import ElonaraError, NotAllowedError
from elonara.forms import (
    CohostForm,
    CommunityEditForm,
    CommunityForm,
    EventForm,
    HostMessageForm,
    QuestionForm,
    RSVPForm,
)
from elonara.models import RSVP, TIME_ZONE_IDS, Community, Event, EventQuestion, EventSeries
from elonara.prefill import event_prefill
from members.models import Member


def _apply_error(form, error: ElonaraError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


def community_list(request):
    return render(request, "elonara/community_list.html", {"communities": selectors.community_list()})


@login_required
def community_create(request):
    form = CommunityForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            community = services.community_create(creator=request.user, **form.cleaned_data)
        except ElonaraError as error:
            _apply_error(form, error)
        else:
            messages.success(request, gettext("%(name)s is ready. You are its host.") % {"name": community.name})
            return redirect(community)
    return render(request, "elonara/community_form.html", {"form": form})


@login_required
def community_edit(request, slug):
    community = get_object_or_404(Community, slug=slug)
    if not selectors.community_is_host(community=community, member=request.user):
        raise PermissionDenied("Only a host can edit this community.")
    initial = {"name": community.name, "description": community.description, "image_alt": community.image_alt}
    form = CommunityEditForm(request.POST or None, request.FILES or None, initial=initial,
                             has_image=bool(community.image))
    if request.method == "POST" and form.is_valid():
        try:
            services.community_update(community=community, editor=request.user, **form.cleaned_data)
        except ElonaraError as error:
            _apply_error(form, error)
        else:
            messages.success(request, gettext("Community updated."))
            return redirect(community)
    return render(request, "elonara/community_edit.html", {"form": form, "community": community})


def community_detail(request, slug):
    # The whole page per viewer (core.page_cache.page_response), over the part every viewer sees
    # alike (elonara.community_page), kept until the community or the viewer's own state changes.
    community_id = community_page.community_id_get(slug=slug)
    if community_id is None:
        raise Http404("No such community.")
    return page_response(request, f"community:{slug}", [("community", community_id)],
                         partial(_community_detail_render, request, slug, community_id))


def _community_detail_render(request, slug: str, community_id: int, extra_context: dict[str, str]
                             ) -> tuple[HttpResponse, int]:
    page = community_page.community_page_get(slug=slug)
    if page is None:
        raise Http404("No such community.")
    community = page.community
    membership = page.memberships.get(request.user.pk) if request.user.is_authenticated else None
    context = {
        "community": community,
        "page": page,
        "membership": membership,
        "is_host": bool(membership and membership.role == "host"),
        # The only organizer is not offered "Leave" (a community needs one).
        "sole_organizer": bool(membership and membership.role == "host")
        and sum(1 for m in page.memberships.values() if m.role == "host") == 1,
        "card": cards.community_link_card(community=community, with_image_bytes=False, members=page.member_count),
        "calendar_url": page.calendar_url,
        **extra_context,
    }
    # Not kept when the slug named another community when the versions were read (renamed meanwhile).
    seconds = page.seconds_left() if community.pk == community_id else 0
    if community.image:
        seconds = min(seconds, media_url_seconds())
    return render(request, "elonara/community_detail.html", context), seconds


def _calendar_response(body: bytes, *, filename: str, download: bool) -> HttpResponse:
    response = HttpResponse(body, content_type=ical.CONTENT_TYPE)
    disposition = "attachment" if download else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


CALENDAR_CACHE_SECONDS = 300


def _calendar_conditional(request, *, key: str, version: tuple, last_change, build, filename: str,
                          download: bool, headers: dict[str, str]) -> HttpResponse:
    """A calendar file with conditional GET: calendar apps poll feeds, and an unchanged one answers
    304 from one cheap query. The body is cached under its ETag, so a client without the ETag
    gets it without rebuilding; a change makes a new ETag, so a stale body is never served."""
    digest = hashlib.sha256(repr((key, version, settings.ELONARA_PUBLIC_URL, get_language())).encode()).hexdigest()[:32]
    etag = f'"{digest}"'
    # Whole seconds, as the header carries them (If-None-Match, checked first, tells finer changes apart).
    last_modified = int(last_change.timestamp()) if last_change else None
    cache_key = f"ical:{key}:{digest}"

    def body() -> bytes:
        cached = cache.get(cache_key)
        if cached is None:
            cached = build()
            cache.set(cache_key, cached, CALENDAR_CACHE_SECONDS)
        return cached

    return _calendar_conditional_response(request, etag=etag, last_modified=last_modified, body=body,
                                          filename=filename, download=download, headers=headers)


def _calendar_conditional_response(request, *, etag: str, last_modified: int | None, body: Callable[[], bytes],
                                   filename: str, download: bool, headers: dict[str, str]) -> HttpResponse:
    """304 to a calendar app that has this version; else the body (read only then)."""
    response = get_conditional_response(request, etag=etag, last_modified=last_modified)
    if response is None:
        response = _calendar_response(body(), filename=filename, download=download)
    response["ETag"] = etag
    if last_modified is not None:
        response["Last-Modified"] = http_date(last_modified)
    for name, value in headers.items():
        response[name] = value
    return response


@require_GET
def community_calendar(request, slug):
    """The community's public calendar feed (subscribe by URL): built once per change
    (elonara.community_page); a calendar app that has it gets 304."""
    calendar = community_page.community_calendar_get(slug=slug)
    if calendar is None:
        raise Http404("No such community.")
    return calendar_file_response(request, calendar, filename=f"{calendar.slug}.ics",
                                  headers={"Cache-Control": "public, max-age=300"})


def calendar_file_response(request, calendar: CalendarFile, *, filename: str, headers: dict[str, str],
                           download: bool = False) -> HttpResponse:
    """A calendar file built once per change (elonara.community_page.CalendarFile)."""
    return _calendar_conditional_response(request, etag=calendar.etag, last_modified=calendar.last_modified,
                                          body=lambda: calendar.body, filename=filename, download=download,
                                          headers=headers)


@require_POST
@login_required
def community_join(request, slug):
    community = get_object_or_404(Community, slug=slug)
    try:
        services.community_join(community=community, member=request.user)
    except NotAllowedError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, gettext("You joined %(name)s.") % {"name": community.name})
    return redirect(community)


@login_required
@require_http_methods(["GET", "POST"])
def community_members_manage(request, slug):
    """Organizers: make or unmake organizers, remove (and block) members, unblock."""
    community = get_object_or_404(Community, slug=slug)
    if not selectors.community_is_host(community=community, member=request.user):
        raise PermissionDenied("Only an organizer can manage the members.")
    if request.method == "POST":
        member = get_object_or_404(Member, username=request.POST.get("member", ""))
        action = request.POST.get("action", "")
        try:
            if action in ("organizer_add", "organizer_remove"):
                services.community_organizer_set(community=community, actor=request.user, member=member,
                                                 organizer=action == "organizer_add")
                said = (gettext("%(name)s is an organizer now.") if action == "organizer_add"
                        else gettext("%(name)s is a member now."))
                messages.success(request, said % {"name": member.name})
            elif action == "remove":
                services.community_member_remove(community=community, actor=request.user, member=member, block=True)
                messages.success(request, gettext("%(name)s is removed and cannot join again.") % {"name": member.name})
            elif action == "unblock":
                services.community_unblock(community=community, actor=request.user, member=member)
                messages.success(request, gettext("%(name)s may join again.") % {"name": member.name})
        except ElonaraError as error:
            messages.error(request, error.message)
        return redirect("community-members", slug=community.slug)
    return render(request, "elonara/community_members.html", {
        "community": community,
        "memberships": selectors.community_members(community=community),
        "blocks": selectors.community_blocks(community=community),
    })


@require_POST
@login_required
def community_leave(request, slug):
    community = get_object_or_404(Community, slug=slug)
    try:
        services.community_leave(community=community, member=request.user)
    except NotAllowedError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, gettext("You left %(name)s.") % {"name": community.name})
    return redirect(community)


@login_required
def event_create(request):
    communities = selectors.community_list_organized_by(member=request.user)
    initial: dict[str, object] = {}
    if slug := request.GET.get("community"):
        initial["community"] = communities.filter(slug=slug).first()
    # "Create an event" links from other apps: shown in the form to check, saved only by "Publish".
    prefill = event_prefill(request.GET, zone_ids=TIME_ZONE_IDS) if request.method == "GET" else None
    if prefill is not None:
        initial.update(prefill.initial)
    initial.setdefault("language", member_language(request.user))
    announce_reason = announcement_services.announcement_unavailable_reason(host=request.user)
    initial["announce"] = not announce_reason and announcement_services.announcement_default(host=request.user)
    form = EventForm(request.POST or None, request.FILES or None, communities=communities, initial=initial,
                     announce_reason=announce_reason)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        announce = bool(data.pop("announce", False))
        kind, rule = data.pop("repeat", ""), data.pop("repeat_rule", "")
        until_date, count = data.pop("repeat_until", None), data.pop("repeat_count", None)
        try:
            if kind:
                event = series_services.series_create(host=request.user, kind=kind, rule=rule,
                                                      until_date=until_date, count=count, **data)
            else:
                event = services.event_create(host=request.user, **data)
        except ElonaraError as error:
            _apply_error(form, error)
        else:
            # (A series is announced once, by its first occurrence.)
            if not announce_reason:
                announcement_services.announcement_choose(event=event, host=request.user, wanted=announce)
            messages.success(request, gettext("Your event is published. Its announcement is being posted on Bluesky.")
                             if announce and not announce_reason else gettext("Your event is published."))
            return redirect(event)
    return render(request, "elonara/event_form.html", {"form": form, "editing": False,
                                                        "prefill": prefill if prefill and prefill.given else None})


@login_required
def event_edit(request, pk):
    event = get_object_or_404(Event.objects.select_related("host"), pk=pk)
    if not selectors.event_can_manage(event=event, member=request.user):
        raise PermissionDenied("Only the host or a co-host can edit this event.")
    zone = event.zone
    initial = {
        "title": event.title, "description": event.description, "venue": event.venue,
        "online_url": event.online_url, "time_zone": event.time_zone, "community": event.community,
        "image_alt": event.image_alt, "mode": event.mode, "country": event.country, "locality": event.locality,
        "capacity": event.capacity, "capacity_counts_outside": event.capacity_counts_outside,
        "requires_approval": event.requires_approval, "guest_list": event.guest_list, "language": event.language,
        "starts_at": event.starts_at.astimezone(zone).replace(tzinfo=None),
        "ends_at": event.ends_at.astimezone(zone).replace(tzinfo=None),
    }
    # The communities offered are the host's (a co-host edits the host's event).
    communities = selectors.community_list_organized_by(member=event.host)
    form = EventForm(request.POST or None, request.FILES or None, communities=communities, initial=initial,
                     has_image=bool(event.image), repeating=False, occurrence=event.series_id is not None,
                     announce_reply=request.user.pk == event.host_id and announcement_services.announcement_can_reply(
                         event=event))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        scope = data.pop("scope", "") or "this"
        if scope == "following":
            data.pop("announce_reply", None)
        try:
            if scope == "following" and event.series_id is not None:
                series_services.series_update_following(event=event, editor=request.user, **data)
            else:
                services.event_update(event=event, editor=request.user, **data)
        except ElonaraError as error:
            _apply_error(form, error)
        else:
            messages.success(request, gettext("Event updated."))
            return redirect(event)
    return render(request, "elonara/event_form.html", {"form": form, "editing": True, "event": event})


def event_detail(request, pk):
    # The whole page per viewer (core.page_cache.page_response), kept until the event or the
    # viewer's own state changes; built over the part every viewer sees alike (elonara.event_page),
    # adding the viewer's own answer, the host's tools and an invitation banner.
    return page_response(request, f"event:{pk}", [("event", pk)], partial(_event_detail_render, request, pk))


def _event_detail_render(request, pk: int, extra_context: dict[str, str]) -> tuple[HttpResponse, int]:
    page = event_page.event_page_get(event_id=pk)
    if page is None:
        raise Http404("No such event.")
    event = page.event
    conversation = getattr(event, "conversation", None)
    # Shown as last read; a stale one is refreshed by a worker (never on this request).
    conversation_services.conversation_refresh_if_stale(conversation=conversation)
    user = request.user
    rsvp = page.answer_for(user.pk) if user.is_authenticated else None
    is_host = user.is_authenticated and event.host_id == user.pk
    # Answers of accounts the viewer blocks on Bluesky are not listed to them: their lists drawn
    # for them alone (this copy of the page is theirs), the shared part left as it is.
    blocked, blocks_seconds = event_page.event_answers_blocked_for(page=page, member=user)
    context = {
        "event": event,
        "page": page,
        "about_html": page.about_html_without(dids=blocked) if blocked else page.about_html,
        "zone": event.zone,
        "is_host": is_host,
        # The same rule as selectors.event_can_manage, from the co-hosts already read for the page.
        "can_manage": is_host or user.pk in page.cohost_ids,
        "waitlist_position": selectors.rsvp_waitlist_position(rsvp=rsvp),
        "rsvp": rsvp,
        "rsvp_form": RSVPForm(initial={"status": rsvp.status if rsvp else "going"}),
        "card": cards.event_link_card(event=event, with_image_bytes=False),
        "conversation": conversation,
        "question_fields": _question_fields(page.questions, rsvp),
        "questions_open": timezone.now() < event.starts_at,
        # "Updates from the host": the hosts and the guests they write to (host_messages.READERS).
        "updates": host_messages.host_messages_readable(
            messages=page.host_messages, status=rsvp.status if rsvp is not None else None,
            is_manager=is_host or user.pk in page.cohost_ids) if user.is_authenticated else [],
        **extra_context,
    }
    # A page opened from a feed (?via=feed) or an invitation (?invitation=...; pages with a query
    # string are never kept) tells the answer where it came from, for the host's figures.
    if request.GET.get("invitation"):
        context["came_via"] = RSVP.CameBy.INVITATION.value
    elif request.GET.get("via") == RSVP.CameBy.FEED:
        context["came_via"] = RSVP.CameBy.FEED.value
    context["show_guest_names"] = selectors.event_guest_names_shown(event=event, member=user,
                                                                    can_manage=context["can_manage"])
    # The guest's ticket: its image is linked (door_views.event_ticket_qr), drawn only when opened.
    context["has_ticket"] = rsvp is not None and rsvp.status == RSVP.Status.GOING
    if context["is_host"] and event.publish_state in ("", "failed"):
        # One query (whether the host has an account to write records with), not the agents' three.
        context["can_publish"] = bluesky_selectors.member_can_write_records(member=user)
    # Kept until the replies are due a refresh (the next view asks for one), and no longer than a
    # signed cover address lives.
    seconds = conversation_services.conversation_fresh_seconds(conversation=conversation)
    if event.image:
        seconds = min(seconds, media_url_seconds())
    if blocks_seconds is not None:
        # A block made in the Bluesky app renews nothing here: the copy lasts as long as the blocks read.
        seconds = min(seconds, blocks_seconds)
    return render(request, "elonara/event_detail.html", context), seconds


def _question_fields(asked: list[EventQuestion], rsvp: RSVP | None) -> list[dict]:
    """Each question with the viewer's answer, for the answer form and its read-only summary."""
    given = rsvp.question_answers if rsvp is not None else {}
    return [{"question": q, "name": f"q-{q.pk}", "value": given.get(str(q.pk)),
             "text": questions.answer_text(q, given.get(str(q.pk)))} for q in asked]


def _answers_posted(request, event: Event) -> dict | None:
    """The answers to the questions in an answer form, by question id; None when the form had
    none (the service then keeps the answers already given)."""
    if not request.POST.get("questions"):
        return None
    answers: dict[str, object] = {}
    for question in questions.event_questions(event=event):
        name = f"q-{question.pk}"
        if question.kind == EventQuestion.Kind.MANY:
            answers[str(question.pk)] = request.POST.getlist(name)
        elif question.kind == EventQuestion.Kind.CHECKBOX:
            answers[str(question.pk)] = bool(request.POST.get(name))
        else:
            answers[str(question.pk)] = request.POST.get(name, "")
    return answers


@require_POST
@login_required
def event_publish(request, pk):
    event = get_object_or_404(Event, pk=pk)
    try:
        queued = publishing.event_publish_again(event=event, actor=request.user)
    except NotAllowedError as error:
        raise PermissionDenied(error.message) from error
    if queued:
        messages.success(request, gettext("Publishing the event on Bluesky."))
    else:
        messages.error(request, gettext("Connect your Bluesky account (or add an app password) to publish the event "
                                        "there."))
    return redirect(event)


def _manager_event(request, pk: int) -> Event:
    event = get_object_or_404(Event.objects.select_related("host"), pk=pk)
    if not selectors.event_can_manage(event=event, member=request.user):
        raise PermissionDenied("Only the host or a co-host can see this.")
    return event


@login_required
@require_http_methods(["GET", "POST"])
def event_people(request, pk):
    """The host's and co-hosts' page: requests to approve, the waiting list, co-hosts, export."""
    event = _manager_event(request, pk)
    cohost_form = CohostForm(request.POST if request.POST.get("action") == "cohost_add" else None)
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action in ("approve", "decline", "remove"):
                act = {"approve": services.rsvp_approve, "decline": services.rsvp_decline,
                       "remove": services.rsvp_remove}[action]
                rsvp = act(event=event, actor=request.user, rsvp_id=int(request.POST.get("rsvp", 0) or 0))
                messages.success(request, gettext("%(name)s: %(status)s.")
                                 % {"name": rsvp.member.name, "status": rsvp.get_status_display().lower()})
                return redirect("event-people", pk=event.pk)
            if action == "ask_questions":
                asked_count = questions.questions_ask_missing(event=event, actor=request.user)
                messages.success(request, ngettext("Asked %(count)d person by mail to answer the questions.",
                                                   "Asked %(count)d people by mail to answer the questions.",
                                                   asked_count) % {"count": asked_count})
                return redirect("event-people", pk=event.pk)
            if action == "cohost_remove":
                member = get_object_or_404(Member, pk=int(request.POST.get("member", 0) or 0))
                services.event_cohost_remove(event=event, actor=request.user, member=member)
                messages.success(request, gettext("%(name)s is no longer a co-host.") % {"name": member.name})
                return redirect("event-people", pk=event.pk) if member != request.user else redirect(event)
            if action == "cohost_add" and cohost_form.is_valid():
                new_cohost = Member.objects.filter(username=cohost_form.cleaned_data["username"].strip().lstrip("@"),
                                                   is_active=True).first()
                if new_cohost is None:
                    cohost_form.add_error("username", "No member has that username.")
                else:
                    services.event_cohost_add(event=event, actor=request.user, member=new_cohost)
                    messages.success(request, gettext("%(name)s co-hosts this event.") % {"name": new_cohost.name})
                    return redirect("event-people", pk=event.pk)
        except ValueError as error:
            raise Http404("No such answer") from error
        except ElonaraError as error:
            messages.error(request, error.message)
            return redirect("event-people", pk=event.pk)
    asked, answered = questions.event_answers_rows(event=event)
    return render(request, "elonara/event_people.html", {
        "questions": asked,
        "answers": [{"rsvp": rsvp, "pairs": [(q.label, questions.answer_text(q, rsvp.question_answers.get(str(q.pk))))
                                             for q in asked]} for rsvp in answered] if asked else [],
        "missing_count": sum(1 for rsvp in answered if rsvp.questions_missing),
        "event": event,
        "is_host": event.host_id == request.user.pk,
        "requests": selectors.event_requests(event=event),
        "waitlist": selectors.event_waitlist(event=event),
        "going": selectors.event_going(event=event),
        "cohosts": selectors.event_cohosts(event=event),
        "cohost_form": cohost_form,
        "seats_taken": selectors.event_seats_taken(event=event),
    })


# A cell a spreadsheet would run as a formula (CSV injection): quoted with a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_response(rows, *, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    writer = csv.writer(response)
    for row in rows:
        writer.writerow(["'" + cell if cell.startswith(_FORMULA_START) else cell for cell in row])
    return response


@login_required
@require_GET
def event_attendees_csv(request, pk):
    event = _manager_event(request, pk)
    return _csv_response(selectors.event_attendee_export_rows(event=event), filename=f"attendees-{event.pk}.csv")


@login_required
@require_GET
def event_answers_csv(request, pk):
    """The answers to the event's questions, one row a person (guests write them: the cells are
    made safe for spreadsheets like the attendee list's)."""
    event = _manager_event(request, pk)
    return _csv_response(questions.event_answers_export(event=event), filename=f"answers-{event.pk}.csv")


@login_required
@require_http_methods(["GET", "POST"])
def event_questions(request, pk):
    """The host's and co-hosts' page for the questions asked when answering."""
    event = _manager_event(request, pk)
    form = QuestionForm(request.POST if request.POST.get("action") == "add" else None)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "delete":
                questions.question_delete(event=event, actor=request.user,
                                          question_id=int(request.POST.get("question", 0) or 0))
                messages.success(request, gettext("Question removed."))
                return redirect("event-questions", pk=event.pk)
            if form.is_valid():
                data = form.cleaned_data
                questions.question_add(event=event, actor=request.user, kind=data["kind"], label=data["label"],
                                       choices=data["choices"].splitlines(), required=data["required"])
                messages.success(request, gettext("Question added."))
                return redirect("event-questions", pk=event.pk)
        except ValueError as error:
            raise Http404("No such question") from error
        except ElonaraError as error:
            _apply_error(form, error)
    asked = questions.event_questions(event=event)
    return render(request, "elonara/event_questions.html", {
        "event": event, "questions": asked, "form": form, "full": len(asked) >= questions.QUESTIONS_MAX,
        "questions_max": questions.QUESTIONS_MAX,
    })


@login_required
@require_http_methods(["GET", "POST"])
def event_message(request, pk):
    """The host or a co-host writes to chosen guests; earlier messages below, newest first."""
    event = _manager_event(request, pk)
    reply_note = host_messages.host_message_reply_unavailable_reason(event=event, actor=request.user)
    form = HostMessageForm(request.POST or None, reply_offered=not reply_note)
    if request.method == "POST" and form.is_valid():
        try:
            host_messages.host_message_send(event=event, actor=request.user, body=form.cleaned_data["body"],
                                            groups=form.cleaned_data["groups"],
                                            also_reply=bool(form.cleaned_data.get("also_reply")))
        except ElonaraError as error:
            _apply_error(form, error)
        except RateLimitedError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, gettext("Message sent. It shows on the event page under “Updates from the "
                                              "host”."))
            return redirect("event-message", pk=event.pk)
    return render(request, "elonara/event_message.html", {
        "event": event, "form": form, "sent": host_messages.host_messages_for(event=event, member=request.user),
        # Said to the host only: a co-host is not offered the host's own thread.
        "reply_note": reply_note if event.host_id == request.user.pk else "",
    })


def series_detail(request, pk):
    series = get_object_or_404(EventSeries.objects.select_related("host", "continued_by"), pk=pk)
    zone = series.zone
    return render(request, "elonara/series_detail.html", {
        "series": series,
        "zone": zone,
        "rule_text": recurrence.describe(series.kind, local_start=series.starts_at.astimezone(zone), rule=series.rule),
        "occurrences": selectors.series_occurrences_upcoming(series=series),
        "is_host": request.user.is_authenticated and series.host_id == request.user.pk,
    })


@require_GET
def series_ics(request, pk):
    """The series as one repeating calendar entry (RRULE, EXDATEs, edited occurrences)."""
    series = get_object_or_404(EventSeries, pk=pk)
    body = ical.series_ics(series=series, occurrences=selectors.series_occurrences_all(series=series),
                           last_start=selectors.series_last_start(series=series))
    return _calendar_response(body, filename=f"{slugify(series.title)[:60] or 'series'}-{series.pk}.ics",
                              download=False)


@require_POST
@login_required
def event_conversation(request, pk):
    """The host or a co-host links (or unlinks) the event's announcement post on Bluesky."""
    event = get_object_or_404(Event, pk=pk)
    try:
        if request.POST.get("action") == "clear":
            conversation_services.conversation_clear(event=event, actor=request.user)
            messages.success(request, gettext("The Bluesky post is no longer linked."))
        else:
            conversation_services.conversation_set(event=event, actor=request.user, link=request.POST.get("post", ""))
            messages.success(request, gettext("Linked. Replies on Bluesky show here in a moment."))
    except NotAllowedError as error:
        raise PermissionDenied(error.message) from error
    except ElonaraError as error:
        messages.error(request, error.message)
    return redirect(event)


@require_GET
def event_ics(request, pk):
    """"Add to calendar": the event as a one-event .ics download, built once per change of its page
    (elonara.event_page); a calendar app that has it gets 304."""
    calendar = event_page.event_calendar_get(event_id=pk)
    if calendar is None:
        raise Http404("No such event.")
    return calendar_file_response(request, calendar, filename=f"{calendar.slug}.ics", headers={}, download=True)


@require_POST
@login_required
def event_announce_retry(request, pk):
    """The host asks again for an announcement post that failed (elonara.announcements)."""
    event = get_object_or_404(Event, pk=pk)
    try:
        queued = announcement_services.announcement_retry(event=event, actor=request.user)
    except NotAllowedError as error:
        raise PermissionDenied(error.message) from error
    if queued:
        messages.success(request, "Posting the announcement on Bluesky again.")
    elif reason := announcement_services.announcement_unavailable_reason(host=request.user):
        messages.error(request, reason)
    return redirect(event)


@login_required
@require_http_methods(["GET", "POST"])
def event_cancel(request, pk):
    event = get_object_or_404(Event, pk=pk)
    if event.host_id != request.user.pk:
        raise PermissionDenied("Only the host can cancel this event.")
    if request.method == "POST":
        services.event_cancel(event=event, actor=request.user,
                              announce_reply=request.POST.get("announce_reply") == "on")
        messages.success(request, gettext("The event is cancelled. Calendars that follow it will show it as "
                                          "cancelled."))
        return redirect(event)
    return render(request, "elonara/event_cancel.html",
                  {"event": event, "can_reply": announcement_services.announcement_can_reply(event=event)})


@login_required
@require_http_methods(["GET", "POST"])
def event_delete(request, pk):
    event = get_object_or_404(Event, pk=pk)
    if event.host_id != request.user.pk:
        raise PermissionDenied("Only the host can delete this event.")
    if request.method == "POST":
        services.event_delete(event=event, actor=request.user,
                              delete_announcement=request.POST.get("delete_announcement") == "on")
        messages.success(request, gettext("The event is deleted."))
        return redirect("home")
    return render(request, "elonara/event_delete.html", {
        "event": event, "grant_gaps": announcement_services.announcement_delete_gaps(event=event),
        "message_replies": host_messages.host_message_replies_exist(event=event)})


_RSVP_MESSAGES: dict[str, str | Promise] = {
    RSVP.Status.WAITLISTED: gettext_lazy("All seats are taken: you are on the waiting list. You get a seat as soon "
                                         "as one frees."),
    RSVP.Status.REQUESTED: gettext_lazy("Your request is sent. The host will approve it or not."),
}


@require_POST
@login_required
def event_rsvp(request, pk):
    event = get_object_or_404(Event, pk=pk)
    form = RSVPForm(request.POST)
    if form.is_valid():
        try:
            # Where the answer came from (the host's figures): a closed set, anything else is a link.
            rsvp = services.rsvp_set(event=event, member=request.user, status=form.cleaned_data["status"],
                                     answers=_answers_posted(request, event), via=request.POST.get("via", "")[:12])
        except ElonaraError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, str(_RSVP_MESSAGES.get(rsvp.status) or gettext("Your answer: %(answer)s.")
                                          % {"answer": rsvp.get_status_display()}))
    else:
        messages.error(request, gettext("Choose going, maybe or not going."))
    return redirect(event)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def calendar_feed_manage(request):
    """Create, replace or turn off the member's private feed. A new URL is shown once, here."""
    feed_url = ""
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "regenerate":
            _feed, token = services.calendar_feed_issue(member=request.user)
            feed_url = cards.absolute_url(reverse("member-calendar", args=[token]))
            messages.success(request, gettext("Your private calendar feed is ready. Copy its address now: "
                                              "it is shown only once."))
        elif action == "revoke":
            services.calendar_feed_revoke(member=request.user)
            messages.success(request, gettext("Your calendar feed is turned off; its address no longer works."))
            return redirect("calendar-feed")
    feed = selectors.calendar_feed_for_member(member=request.user)
    return render(request, "elonara/calendar_feed.html", {
        "feed": feed, "feed_url": feed_url, "webcal_url": _webcal(feed_url),
    })


def _webcal(url: str) -> str:
    """webcal:// asks the system's calendar app to subscribe (the same URL, any scheme)."""
    if not url:
        return ""
    return "webcal://" + url.split("://", 1)[1]
