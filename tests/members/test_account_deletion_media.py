"""Deleting an account deletes the member's cover files from storage (issue 24), after commit."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from elonara import services as event_services
from elonara.models import Community, Event
from members.models import Member
from members.services import member_delete
from tests.elonara.conftest import image_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def _member_with_covers(username: str) -> tuple[Member, list[Path]]:
    member = Member.objects.create_user(username=username, password="pw-long-enough-123")
    start = timezone.now() + timedelta(days=3)
    event = event_services.event_create(host=member, title="Swim", starts_at=start,
                                        ends_at=start + timedelta(hours=1), venue="Lake",
                                        image=upload(image_bytes("PNG")))
    community = event_services.community_create(creator=member, name=f"{username} club",
                                                image=upload(image_bytes("JPEG"), name="c.jpg"))
    return member, [Path(event.image.path), Path(community.image.path)]


def test_deleting_an_account_through_the_page_removes_its_cover_files(
    client, media_root, django_capture_on_commit_callbacks
):
    ann, ann_files = _member_with_covers("ann")
    _bob, bob_files = _member_with_covers("bob")
    assert all(path.is_file() for path in ann_files + bob_files)
    client.force_login(ann)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/members/me/delete/", {"confirm_username": "ann"})
    assert response.status_code == 302
    assert not Member.objects.filter(username="ann").exists()
    assert not any(path.exists() for path in ann_files)
    assert all(path.is_file() for path in bob_files)  # only the member's own files go
    assert Event.objects.count() == Community.objects.count() == 1


def test_a_rolled_back_deletion_keeps_the_files(media_root, django_capture_on_commit_callbacks):
    ann, files = _member_with_covers("ann")

    class Abort(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Abort), transaction.atomic():
            member_delete(member=ann)
            raise Abort
    assert callbacks == []  # the deletion's after-commit work went with its rollback
    assert Member.objects.filter(username="ann").exists()
    assert all(path.is_file() for path in files)
