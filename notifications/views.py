from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.ratelimit import RateLimitedError, rate_limit_request
from notifications import services, tokens
from notifications.forms import MailSettingsForm
from notifications.models import TOPIC_LABELS as MAIL_TOPIC_LABELS

TOPIC_LABELS = {**MAIL_TOPIC_LABELS, "all": gettext_lazy("all event mail")}


@login_required
@require_POST
def settings_update(request):
    form = MailSettingsForm(request.POST)
    if form.is_valid():
        services.mail_settings_update(member=request.user, **form.cleaned_data)
        messages.success(request, _("Notification choices saved."))
    return redirect("members:me")


@login_required
@require_POST
def confirmation_send(request):
    try:
        rate_limit_request(request, "email_confirmation")
    except RateLimitedError as exc:
        messages.error(request, exc.message)
        return redirect("members:me")
    if services.email_confirmation_request(member=request.user) is not None:
        messages.success(request, _("We sent a confirmation link to %(email)s.") % {"email": request.user.email})
    return redirect("members:me")


@never_cache
def confirm(request, token: str):
    """GET shows a button, POST confirms: link scanners that fetch every URL in a mail confirm
    nothing by themselves."""
    if request.method == "POST":
        try:
            member = services.email_confirm(token=token)
        except services.EmailError as exc:
            return render(request, "notifications/confirm.html", {"error": exc.message}, status=400)
        return render(request, "notifications/confirm.html", {"confirmed": member.email})
    claim = tokens.confirmation_read(token)
    if claim is None:
        return render(request, "notifications/confirm.html",
                      {"error": _("This confirmation link is not valid or has expired. Send a new one from "
                                  "your profile.")}, status=400)
    return render(request, "notifications/confirm.html", {"email": claim.email})


# RFC 8058: the mail client POSTs with no cookie and no CSRF token; the signed link is the proof
# and all it can do is turn mail off.
@csrf_exempt
@never_cache
def unsubscribe(request, token: str):
    if request.method == "POST":
        if request.POST.get("scope") == "all":
            claim = tokens.unsubscribe_read(token)
            token = tokens.unsubscribe_token(member_id=claim[0], topic="all") if claim else token
        try:
            _member, topic = services.unsubscribe(token=token)
        except services.EmailError as exc:
            return render(request, "notifications/unsubscribe.html", {"error": exc.message}, status=400)
        return render(request, "notifications/unsubscribe.html", {"done": TOPIC_LABELS[topic]})
    claim = tokens.unsubscribe_read(token)
    if claim is None or claim[1] not in TOPIC_LABELS:
        return render(request, "notifications/unsubscribe.html", {"error": _("This unsubscribe link is not valid.")},
                      status=400)
    return render(request, "notifications/unsubscribe.html", {"topic": TOPIC_LABELS[claim[1]]})
