"""Issue 40: a creator's handle is shown only when it and the DID point at each other (the DID
document claims the handle, the handle resolves to the DID), whatever the App View says."""

from __future__ import annotations

import pytest

from bluesky import clients
from network import services
from network.models import Creator
from tests.network.frames import did_document, directory  # noqa: F401 - the fixture

DID = "did:plc:" + "q" * 24


@pytest.fixture
def network(settings, directory):  # noqa: F811
    settings.BLUESKY_APPVIEW_URL = directory.url
    settings.ATPROTO_HANDLE_RESOLVER_URL = directory.url
    directory.profiles[DID] = {"did": DID, "handle": "ann.test", "displayName": "Ann"}
    return directory


def _shown_handle() -> str:
    clients.reset()  # the resolver's cache: each case asks the directory afresh
    Creator.objects.update_or_create(did=DID, defaults={"handle": "", "profile_checked_at": None})
    services.creator_profile_refresh(did=DID)
    return Creator.objects.get(did=DID).handle


@pytest.mark.django_db
def test_a_handle_confirmed_both_ways_is_shown(network):
    network.documents[DID] = did_document(DID, handle="ann.test")
    network.handles["ann.test"] = DID
    assert _shown_handle() == "ann.test"
    assert Creator.objects.get(did=DID).display_name == "Ann"


@pytest.mark.django_db
def test_a_handle_not_claimed_by_the_did_or_not_pointing_back_is_not_shown(network):
    network.handles["ann.test"] = DID
    network.documents[DID] = did_document(DID)  # the document claims no handle
    assert _shown_handle() == ""
    network.documents[DID] = did_document(DID, handle="ann.test")
    network.handles["ann.test"] = "did:plc:" + "r" * 24  # the handle names someone else
    assert _shown_handle() == ""
