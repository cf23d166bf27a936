"""Questions when answering (issue 38): required questions are enforced by the answer service
whatever the door (page, API), answers from other apps are taken and marked "answered elsewhere",
answers change until the event starts, the host reads them on the people page, as CSV (safe for
spreadsheets) and through the API."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from elonara import questions, services
from elonara.errors import InvalidInputError, NotAllowedError
from elonara.models import RSVP, Event, EventQuestion
from members import api_tokens
from tests.elonara.test_answers_doors import by_adoption, by_record, make_event, make_member

pytestmark = pytest.mark.django_db
K = EventQuestion.Kind


@pytest.fixture(autouse=True)
def _quiet(settings):
    settings.ATPROTO_ALLOW_INSECURE_HOSTS = True
    settings.ATPROTO_PLC_URL = "http://127.0.0.1:9"
    settings.ATPROTO_HANDLE_RESOLVER_URL = "http://127.0.0.1:9"


def asked(event: Event, host) -> tuple[EventQuestion, EventQuestion, EventQuestion]:
    diet = questions.question_add(event=event, actor=host, kind=K.SHORT, label="Dietary needs?")
    talk = questions.question_add(event=event, actor=host, kind=K.ONE, label="Which talk?",
                                  choices=["Rust", "Django", ""], required=True)
    code = questions.question_add(event=event, actor=host, kind=K.CHECKBOX, label="I accept the code of conduct",
                                  required=True)
    return diet, talk, code


def page_answer(event: Event, member, status: str, answers: dict[str, object] | None):
    client = Client()
    client.force_login(member)
    data: dict[str, object] = {"status": status}
    if answers is not None:
        data["questions"] = "1"
        data.update({f"q-{k}": v for k, v in answers.items() if v is not False})
    return client.post(f"/events/{event.pk}/rsvp/", data, follow=True)


def api_client(member) -> dict[str, str]:
    secret = api_tokens.api_token_create(member=member, name="t", permissions=["events", "read"]).secret
    return {"HTTP_AUTHORIZATION": f"Bearer {api_tokens.api_access_token_issue(secret=secret)[0]}"}


def api_answer(event: Event, member, status: str, answers: dict[str, object] | None):
    body: dict[str, object] = {"status": status}
    if answers is not None:
        body["answers"] = answers
    return Client().post(f"/api/v1/events/{event.pk}/rsvp/", body, content_type="application/json",
                         **api_client(member))


def status_of(event: Event, member) -> str:
    return RSVP.objects.filter(event=event, member=member).values_list("status", flat=True).first() or ""


@pytest.mark.parametrize("door", ["page", "api"])
def test_a_required_question_unanswered_refuses_going_through_each_door(door):
    host, ann = make_member("host"), make_member("ann")
    event = make_event(host)
    _diet, talk, code = asked(event, host)
    answer = page_answer if door == "page" else api_answer
    response = answer(event, ann, "going", {str(talk.pk): "Rust"})  # the checkbox left unticked
    assert status_of(event, ann) == ""
    if door == "api":
        assert response.status_code == 400
        assert "code of conduct" in response.json()["message"]
    else:
        assert "Please answer: I accept the code of conduct" in response.content.decode()
    answer(event, ann, "going", {str(talk.pk): "Rust", str(code.pk): True})
    rsvp = RSVP.objects.get(event=event, member=ann)
    assert rsvp.status == "going"
    assert rsvp.question_answers == {str(talk.pk): "Rust", str(code.pk): True}


@pytest.mark.parametrize("door", ["page", "api"])
def test_answers_left_out_keep_those_given_and_going_without_any_is_refused(door):
    host, ann = make_member("host"), make_member("ann")
    event = make_event(host)
    _diet, talk, code = asked(event, host)
    answer = page_answer if door == "page" else api_answer
    answer(event, ann, "going", None)  # an old form or a client that knows no questions
    assert status_of(event, ann) == ""
    answer(event, ann, "going", {str(talk.pk): "Django", str(code.pk): True})
    answer(event, ann, "maybe", None)
    answer(event, ann, "going", None)
    rsvp = RSVP.objects.get(event=event, member=ann)
    assert (rsvp.status, rsvp.question_answers[str(talk.pk)]) == ("going", "Django")


def test_maybe_and_not_going_need_no_answers_and_a_request_to_join_does():
    host, ann, bob = make_member("host"), make_member("ann"), make_member("bob")
    event = make_event(host, requires_approval=True)
    _diet, talk, code = asked(event, host)
    assert services.rsvp_set(event=event, member=ann, status="maybe").status == "requested"
    services.rsvp_set(event=event, member=bob, status="not_going")
    with pytest.raises(InvalidInputError):
        services.rsvp_set(event=event, member=bob, status="going")
    rsvp = services.rsvp_set(event=event, member=bob, status="going", answers={str(talk.pk): "Rust",
                                                                               str(code.pk): True})
    assert (rsvp.status, rsvp.wanted_status) == ("requested", "going")


@pytest.mark.parametrize("door", ["record", "adoption"])
def test_answers_from_other_apps_are_taken_and_marked_answered_elsewhere(door):
    host, ann = make_member("host"), make_member("ann")
    event = make_event(host)
    asked(event, host)
    {"record": by_record, "adoption": by_adoption}[door](event, ann, "going")
    rsvp = RSVP.objects.get(event=event, member=ann)
    assert (rsvp.status, rsvp.questions_missing) == ("going", True)
    client = Client()
    client.force_login(host)
    page = client.get(f"/events/{event.pk}/people/").content.decode()
    assert "Answered elsewhere: questions not answered." in page
    rows = list(csv.reader(io.StringIO(client.get(f"/events/{event.pk}/answers.csv").content.decode())))
    assert rows[1][:4] == ["ann", "ann", "Going", "Answered elsewhere: questions not answered"]


def test_an_answer_here_clears_answered_elsewhere():
    host, ann = make_member("host"), make_member("ann")
    event = make_event(host)
    _diet, talk, code = asked(event, host)
    by_record(event, ann, "going")
    services.rsvp_set(event=event, member=ann, status="going", answers={str(talk.pk): "Rust", str(code.pk): True})
    assert RSVP.objects.get(event=event, member=ann).questions_missing is False


def test_answers_change_until_the_event_starts_and_not_after():
    host, ann = make_member("host"), make_member("ann")
    event = make_event(host)
    diet, talk, code = asked(event, host)
    first = {str(talk.pk): "Rust", str(code.pk): True}
    services.rsvp_set(event=event, member=ann, status="going", answers=first)
    changed = {**first, str(diet.pk): "Vegan", str(talk.pk): "Django"}
    rsvp = services.rsvp_set(event=event, member=ann, status="going", answers=changed)
    assert RSVP.objects.get(pk=rsvp.pk).question_answers == changed
    Event.objects.filter(pk=event.pk).update(starts_at=timezone.now() - timedelta(minutes=5))
    with pytest.raises(NotAllowedError, match="started"):
        services.rsvp_set(event=event, member=ann, status="going", answers={**changed, str(diet.pk): "None"})
    assert RSVP.objects.get(pk=rsvp.pk).question_answers == changed
    # The same answers again (a page re-sent) are no change.
    services.rsvp_set(event=event, member=ann, status="going", answers=changed)


def test_answers_are_checked_against_the_questions():
    host, ann = make_member("host"), make_member("ann")
    event = make_event(host)
    _diet, talk, code = asked(event, host)
    many = questions.question_add(event=event, actor=host, kind=K.MANY, label="Which days?", choices=["Sat", "Sun"])
    with pytest.raises(InvalidInputError, match="Which talk"):
        services.rsvp_set(event=event, member=ann, status="going", answers={str(talk.pk): "Cobol", str(code.pk): True})
    with pytest.raises(InvalidInputError, match="Which days"):
        services.rsvp_set(event=event, member=ann, status="going",
                          answers={str(talk.pk): "Rust", str(code.pk): True, str(many.pk): ["Mon"]})
    rsvp = services.rsvp_set(event=event, member=ann, status="going",
                             answers={str(talk.pk): "Rust", str(code.pk): True, str(many.pk): ["Sun", "Sat"],
                                      "999999": "ignored"})
    assert rsvp.question_answers == {str(talk.pk): "Rust", str(code.pk): True, str(many.pk): ["Sat", "Sun"]}


def test_questions_are_the_hosts_to_set_ten_at_most():
    host, cohost, ann = make_member("host"), make_member("co"), make_member("ann")
    event = make_event(host)
    with pytest.raises(NotAllowedError):
        questions.question_add(event=event, actor=ann, kind=K.SHORT, label="Hi?")
    with pytest.raises(InvalidInputError, match="two choices"):
        questions.question_add(event=event, actor=host, kind=K.ONE, label="Pick", choices=["only"])
    services.event_cohost_add(event=event, actor=host, member=cohost)
    for n in range(10):
        questions.question_add(event=event, actor=cohost if n % 2 else host, kind=K.SHORT, label=f"Q{n}")
    with pytest.raises(InvalidInputError, match="at most 10"):
        questions.question_add(event=event, actor=host, kind=K.SHORT, label="Eleventh")
    assert [q.label for q in questions.event_questions(event=event)] == [f"Q{n}" for n in range(10)]


def test_the_questions_page_adds_and_removes():
    host = make_member("host")
    event = make_event(host)
    client = Client()
    client.force_login(host)
    client.post(f"/events/{event.pk}/questions/", {"action": "add", "kind": "many", "label": "Which days?",
                                                   "choices": "Sat\nSun\n", "required": "on"})
    question = EventQuestion.objects.get(event=event)
    assert (question.choices, question.required) == (["Sat", "Sun"], True)
    stranger = Client()
    stranger.force_login(make_member("ann"))
    assert "Which days?" in stranger.get(f"/events/{event.pk}/").content.decode()  # asked in the answer form
    client.post(f"/events/{event.pk}/questions/", {"action": "delete", "question": question.pk})
    assert not EventQuestion.objects.filter(event=event).exists()
    assert "Which days?" not in stranger.get(f"/events/{event.pk}/").content.decode()
    assert stranger.get(f"/events/{event.pk}/questions/").status_code == 403


def test_the_csv_holds_every_answer_and_no_cell_a_spreadsheet_would_run():
    host, ann, bob = make_member("host"), make_member("ann"), make_member("bob")
    event = make_event(host)
    diet, talk, code = asked(event, host)
    services.rsvp_set(event=event, member=ann, status="going",
                      answers={str(diet.pk): "=HYPERLINK(\"http://evil\")", str(talk.pk): "Rust", str(code.pk): True})
    services.rsvp_set(event=event, member=bob, status="maybe",
                      answers={str(diet.pk): "+1 vegan", str(talk.pk): "Django"})
    client = Client()
    client.force_login(host)
    response = client.get(f"/events/{event.pk}/answers.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Name", "Username", "Answer", "Dietary needs?", "Which talk?", "I accept the code of conduct"]
    assert ["ann", "ann", "Going", "'=HYPERLINK(\"http://evil\")", "Rust", "Yes"] in rows
    assert ["bob", "bob", "Maybe", "'+1 vegan", "Django", ""] in rows
    assert len(rows) == 3  # the host is not a guest
    stranger = Client()
    stranger.force_login(ann)
    assert stranger.get(f"/events/{event.pk}/answers.csv").status_code == 403


def test_the_api_exposes_the_answers_with_the_answer():
    host, ann = make_member("host"), make_member("ann")
    event = make_event(host)
    _diet, talk, code = asked(event, host)
    given = {str(talk.pk): "Rust", str(code.pk): True}
    result = api_answer(event, ann, "going", given).json()
    assert (result["status"], result["answers"]) == ("going", given)
    detail = Client().get(f"/api/v1/events/{event.pk}/", **api_client(ann)).json()
    assert detail["my_answer"]["answers"] == given and detail["my_answer"]["questions_missing"] is False
    assert [q["label"] for q in detail["questions"]] == ["Dietary needs?", "Which talk?",
                                                         "I accept the code of conduct"]
    listed = Client().get(f"/api/v1/events/{event.pk}/answers/", **api_client(host)).json()
    assert [(a["member"]["username"], a["answers"]) for a in listed["answers"]] == [("ann", given)]
    assert Client().get(f"/api/v1/events/{event.pk}/answers/", **api_client(ann)).status_code == 403


def test_the_invitation_buttons_without_the_questions_lead_to_the_form_that_asks_them():
    """The invitation landing's one-click answers carry no answers: "going" is refused by the
    service and the member lands on the event page with the questions and what is missing."""
    host, ann = make_member("host"), make_member("ann")
    event = make_event(host)
    _diet, talk, _code = asked(event, host)
    client = Client()
    client.force_login(ann)
    landed = client.post(f"/events/{event.pk}/rsvp/", {"status": "going"}, follow=True)
    assert landed.redirect_chain[-1][0] == event.get_absolute_url()
    page = landed.content.decode()
    assert "Please answer: Which talk?" in page and f'name="q-{talk.pk}"' in page
    assert status_of(event, ann) == ""
