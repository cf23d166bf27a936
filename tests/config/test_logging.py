"""LOG_FORMAT=json: one JSON object per line, with request id and member id, never a secret."""

from __future__ import annotations

import copy
import io
import json
import logging
import logging.config
import os
import subprocess
import sys
from pathlib import Path

import pytest

from members.models import Member

ROOT = Path(__file__).resolve().parent.parent.parent
JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJkaWQ6cGxjOmFsaWNlIn0.c2lnbmF0dXJlLXZhbHVl"


@pytest.fixture
def json_log(settings):
    stream = io.StringIO()
    config = copy.deepcopy(settings.LOGGING)
    config["handlers"]["console"].update(formatter="json", stream=stream)
    logging.config.dictConfig(config)
    yield stream
    logging.config.dictConfig(settings.LOGGING)


@pytest.mark.django_db
def test_a_request_log_line_is_json_with_request_and_member_ids(client, json_log):
    member = Member.objects.create_user(username="ann", password="pw-long-enough-123")
    client.force_login(member)
    response = client.post("/bluesky/connect/", {"identifier": ""})  # refused: logs its error code
    assert response.status_code == 302
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    line = next(entry for entry in lines if entry["message"] == "bluesky connect refused")
    assert line["request_id"] == response["X-Request-ID"]
    assert line["member_id"] == str(member.pk)
    assert line["code"] == "empty_input" and line["level"] == "INFO" and line["logger"] == "bluesky.views"
    assert "time" in line


def test_secrets_never_reach_a_json_line(json_log):
    logging.getLogger("elonara.anything").warning(
        "upstream answered %s", JWT, extra={"refresh_token": "ref-0123456789abcdef0123", "code": "par_refused"})
    line = json.loads(json_log.getvalue().splitlines()[-1])
    assert JWT not in json_log.getvalue() and "ref-0123456789abcdef0123" not in json_log.getvalue()
    assert line["refresh_token"] == "[Filtered]" and line["code"] == "par_refused"
    assert line["request_id"] == "" and line["member_id"] == ""


def test_log_format_json_is_what_the_process_prints():
    env = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    env.update(DEBUG="true", LOG_FORMAT="json", DJANGO_SETTINGS_MODULE="config.settings",
               DATABASE_URL="sqlite:///:memory:")
    code = "import logging; logging.getLogger('elonara').warning('hello')"
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello" and line["level"] == "WARNING"
    env["LOG_FORMAT"] = "plain"
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.stderr.strip().endswith("WARNING elonara hello")


@pytest.mark.django_db
def test_django_request_errors_carry_the_request_id(client, json_log):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    line = next(json.loads(entry) for entry in json_log.getvalue().splitlines() if "Not Found" in entry)
    assert line["request_id"] == response["X-Request-ID"] and line["path"] == "/no-such-page/"
