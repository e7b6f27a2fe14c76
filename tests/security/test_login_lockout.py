"""Brute force: after 10 wrong passwords in a row for one username from one address, every door
(/accounts/login/, /admin/login/, /api/token/) refuses even the right password for 15 minutes, with a 429."""
from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def log_in(client, door: str, username: str, password: str) -> tuple[int, bool]:
    """(status, whether it worked) of one login at `door`."""
    if door == "token":
        response = client.post("/api/token/", {"username": username, "password": password})
        return response.status_code, response.status_code == 200 and "token" in response.json()
    url = "/accounts/login/" if door == "page" else "/admin/login/"
    response = client.post(url, {"username": username, "password": password})
    worked = "_auth_user_id" in client.session
    client.logout()
    return response.status_code, worked


DOORS = ["page", "admin", "token"]


@pytest.mark.parametrize("door", DOORS)
def test_eleven_wrong_passwords_lock_the_account_out_even_for_the_right_one(client, alice, door):
    statuses = [log_in(client, door, "alice", f"wrong-{i}")[0] for i in range(11)]
    assert 429 not in statuses[:9] and statuses[9:] == [429, 429]
    status, worked = log_in(client, door, "alice", "alice-pass-123")
    assert (status, worked) == (429, False)
    url = {"page": "/accounts/login/", "admin": "/admin/login/", "token": "/api/token/"}[door]
    text = client.post(url, {"username": "alice", "password": "alice-pass-123"}).content.decode()
    assert "Too many failed logins" in text and "15 minutes" in text


@pytest.mark.parametrize("door", DOORS)
def test_another_user_from_the_same_address_is_not_locked_out(client, alice, django_user_model, door):
    django_user_model.objects.create_user("dora", password="dora-pass-123", is_staff=True)
    for i in range(11):
        log_in(client, door, "alice", f"wrong-{i}")
    assert log_in(client, door, "dora", "dora-pass-123") == (200 if door == "token" else 302, True)


def test_a_lockout_at_one_door_holds_at_the_others(client, alice):
    for i in range(10):
        log_in(client, "token", "alice", f"wrong-{i}")
    assert log_in(client, "page", "alice", "alice-pass-123") == (429, False)
    assert log_in(client, "admin", "alice", "alice-pass-123") == (429, False)


def test_a_successful_login_resets_the_count(client, alice):
    for _ in range(2):
        for i in range(9):
            assert log_in(client, "page", "alice", f"wrong-{i}") == (200, False)
        assert log_in(client, "page", "alice", "alice-pass-123") == (302, True)


def test_the_lockout_ends_after_the_cool_off(client, alice):
    for i in range(10):
        log_in(client, "page", "alice", f"wrong-{i}")
    assert log_in(client, "page", "alice", "alice-pass-123") == (429, False)
    assert settings.AXES_COOLOFF_TIME == datetime.timedelta(minutes=15)
    earlier = AccessAttempt.objects.get().attempt_time - datetime.timedelta(minutes=15, seconds=1)
    AccessAttempt.objects.update(attempt_time=earlier)
    assert log_in(client, "page", "alice", "alice-pass-123") == (302, True)


def test_the_limit_and_the_cool_off_come_from_the_environment():
    code = "import readerstudy.settings as s; print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds())"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIRAGE_")}
    env.update(MIRAGE_LOGIN_FAILURE_LIMIT="4", MIRAGE_LOGIN_COOLOFF_MINUTES="60")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.split() == ["4", "3600.0"], result.stderr
    env["MIRAGE_LOGIN_FAILURE_LIMIT"] = "0"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0 and "MIRAGE_LOGIN_FAILURE_LIMIT" in result.stderr
