from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from elonara import selectors as event_selectors
from members.forms import ProfileForm, SignUpForm
from members.models import Member
from members.services import member_update_profile


def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        member = form.save()
        login(request, member, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome to Elonara, {member.name}!")
        if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
            return redirect(next_url)
        return redirect("home")
    return render(request, "members/signup.html", {"form": form, "next": next_url})


def profile(request, username):
    member = get_object_or_404(Member, username=username)
    context = {
        "profile_member": member,
        "is_self": request.user.is_authenticated and request.user.pk == member.pk,
        "communities": event_selectors.community_list_for_member(member=member),
    }
    return render(request, "members/profile.html", context)


@login_required
def my_profile(request):
    return redirect("members:profile", username=request.user.username)


@login_required
def profile_edit(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        member_update_profile(member=request.user, **form.cleaned_data)
        messages.success(request, "Profile saved.")
        return redirect("members:profile", username=request.user.username)
    return render(request, "members/profile_edit.html", {"form": form})
