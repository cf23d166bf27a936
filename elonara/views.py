from functools import partial
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from elonara import selectors, services
from elonara.errors import ElonaraError, NotAllowedError
from elonara.forms import CommunityForm, EventForm, RSVPForm
from elonara.models import Community, Event
from elonara.services import UPCOMING_CACHE_SECONDS


def _apply_error(form, error: ElonaraError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


def home(request):
    # A callable: the template calls it (building the queryset) only when the cached fragment is missing.
    context = {"upcoming_events": partial(selectors.event_list_upcoming, limit=30),
               "upcoming_ttl": UPCOMING_CACHE_SECONDS}
    if request.user.is_authenticated:
        context["my_communities"] = selectors.community_list_for_member(member=request.user)
        context["my_rsvps"] = selectors.rsvp_list_upcoming_for_member(member=request.user)
    return render(request, "elonara/home.html", context)


def community_list(request):
    return render(request, "elonara/community_list.html", {"communities": selectors.community_list()})


@login_required
def community_create(request):
    form = CommunityForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            community = services.community_create(creator=request.user, **form.cleaned_data)
        except ElonaraError as error:
            _apply_error(form, error)
        else:
            messages.success(request, f"{community.name} is ready. You are its host.")
            return redirect(community)
    return render(request, "elonara/community_form.html", {"form": form})


def community_detail(request, slug):
    community = get_object_or_404(Community, slug=slug)
    membership = selectors.community_membership_for(community=community, member=request.user)
    context = {
        "community": community,
        "membership": membership,
        "is_host": bool(membership and membership.role == "host"),
        "memberships": selectors.community_members(community=community),
        "events": selectors.event_list_for_community(community=community),
    }
    return render(request, "elonara/community_detail.html", context)


@require_POST
@login_required
def community_join(request, slug):
    community = get_object_or_404(Community, slug=slug)
    services.community_join(community=community, member=request.user)
    messages.success(request, f"You joined {community.name}.")
    return redirect(community)


@require_POST
@login_required
def community_leave(request, slug):
    community = get_object_or_404(Community, slug=slug)
    try:
        services.community_leave(community=community, member=request.user)
    except NotAllowedError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"You left {community.name}.")
    return redirect(community)


@login_required
def event_create(request):
    communities = selectors.community_list_for_member(member=request.user)
    initial = {}
    if slug := request.GET.get("community"):
        initial["community"] = communities.filter(slug=slug).first()
    form = EventForm(request.POST or None, communities=communities, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            event = services.event_create(host=request.user, **form.cleaned_data)
        except ElonaraError as error:
            _apply_error(form, error)
        else:
            messages.success(request, "Your event is published.")
            return redirect(event)
    return render(request, "elonara/event_form.html", {"form": form, "editing": False})


@login_required
def event_edit(request, pk):
    event = get_object_or_404(Event, pk=pk)
    if event.host_id != request.user.pk:
        raise PermissionDenied("Only the host can edit this event.")
    zone = ZoneInfo(event.time_zone)
    initial = {
        "title": event.title, "description": event.description, "venue": event.venue,
        "online_url": event.online_url, "time_zone": event.time_zone, "community": event.community,
        "starts_at": event.starts_at.astimezone(zone).replace(tzinfo=None),
        "ends_at": event.ends_at.astimezone(zone).replace(tzinfo=None),
    }
    communities = selectors.community_list_for_member(member=request.user)
    form = EventForm(request.POST or None, communities=communities, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.event_update(event=event, editor=request.user, **form.cleaned_data)
        except ElonaraError as error:
            _apply_error(form, error)
        else:
            messages.success(request, "Event updated.")
            return redirect(event)
    return render(request, "elonara/event_form.html", {"form": form, "editing": True, "event": event})


def event_detail(request, pk):
    event = get_object_or_404(Event.objects.select_related("host", "community"), pk=pk)
    rsvp = selectors.rsvp_for(event=event, member=request.user)
    context = {
        "event": event,
        "zone": ZoneInfo(event.time_zone),
        "is_host": request.user.is_authenticated and event.host_id == request.user.pk,
        "rsvp": rsvp,
        "rsvp_form": RSVPForm(initial={"status": rsvp.status if rsvp else "going"}),
        "attendees": selectors.event_attendees_by_status(event=event),
    }
    return render(request, "elonara/event_detail.html", context)


@require_POST
@login_required
def event_rsvp(request, pk):
    event = get_object_or_404(Event, pk=pk)
    form = RSVPForm(request.POST)
    if form.is_valid():
        rsvp = services.rsvp_set(event=event, member=request.user, status=form.cleaned_data["status"])
        messages.success(request, f"Your answer: {rsvp.get_status_display()}.")
    else:
        messages.error(request, "Choose going, maybe or not going.")
    return redirect(event)
