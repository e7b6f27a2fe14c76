"""Invitation tokens never reach a log line: Django's warnings and gunicorn's access and error logs show a
short keyed tag instead. A refused request (403) is one line, and no Referer carries a reading page's path."""
from __future__ import annotations

import datetime
import hashlib
import hmac
import io
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from gunicorn.config import Config

from readerstudy.logging import GunicornLogger, InvitationTokenFilter, redact, token_tag
from readerstudy.models import Reader

from ..readerstudy.helpers import invite

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def console():
    """What the app's own log handler (settings.LOGGING) writes, while the test runs."""
    handlers = [h for h in logging.getLogger().handlers if any(isinstance(f, InvitationTokenFilter) for f in h.filters)]
    assert handlers, "settings.LOGGING configures no handler with the token filter"
    stream = io.StringIO()
    previous = [h.setStream(stream) for h in handlers]
    yield stream
    for handler, old in zip(handlers, previous):
        handler.setStream(old)


def test_the_tag_is_a_keyed_hash_of_the_token(settings):
    token = "AbC-def_0123456789abcdefghijklmn"
    expected = hmac.new(settings.SECRET_KEY.encode(), token.encode(), hashlib.sha256).hexdigest()[:6]
    assert token_tag(token) == f"[{expected}]"
    assert redact(f"GET /api/reader/{token}/images/x/ and /r/{token}/read/") == (
        f"GET /api/reader/[{expected}]/images/x/ and /r/[{expected}]/read/")
    assert redact("/api/readers/12/ /coordinator/studies/3/") == "/api/readers/12/ /coordinator/studies/3/"
    settings.SECRET_KEY = "another-key-" * 5
    assert token_tag(token) != f"[{expected}]"


@pytest.mark.django_db
def test_django_logs_tag_tokens_and_log_a_refused_request_on_one_line(client, study, charlie, console):
    reader = invite(study)
    excluded = invite(study, "Gone")
    Reader.objects.filter(pk=excluded.pk).update(excluded=True)
    assert client.get(f"/api/reader/{reader.token}/no-such-thing/").status_code == 404
    assert client.get(f"/r/{reader.token}/nope/").status_code == 404
    assert client.get(f"/r/{excluded.token}/").status_code == 403
    client.force_login(charlie)
    assert client.get("/coordinator/").status_code == 403  # PermissionDenied, raised by the view
    lines = console.getvalue().splitlines()
    text = "\n".join(lines)
    assert reader.token not in text and excluded.token not in text
    assert f"Not Found: /api/reader/{token_tag(reader.token)}/no-such-thing/" in lines
    assert f"Not Found: /r/{token_tag(reader.token)}/nope/" in lines
    assert f"Forbidden: /r/{token_tag(excluded.token)}/" in lines
    assert "Forbidden (Permission denied): /coordinator/" in lines
    assert "Traceback" not in text and len(lines) == 4, text


@pytest.mark.django_db
def test_a_server_error_traceback_is_logged_with_tokens_tagged(client, study, console, monkeypatch):
    reader = invite(study)

    def broken(*args, **kwargs):
        raise RuntimeError(f"cannot read /api/reader/{reader.token}/ right now")

    monkeypatch.setattr("readerstudy.api.reader.reader_state", broken)
    client.raise_request_exception = False
    assert client.get(f"/api/reader/{reader.token}/").status_code == 500
    text = console.getvalue()
    assert "Traceback" in text and "RuntimeError" in text and reader.token not in text
    assert token_tag(reader.token) in text


@pytest.mark.django_db
def test_reading_pages_and_images_let_no_referer_carry_a_path(client, study):
    reader = invite(study)
    image_url = client.get(f"/api/reader/{reader.token}/").json()["trials"][0]["images"][0]["url"]
    for url in (f"/r/{reader.token}/", f"/r/{reader.token}/read/", f"/api/reader/{reader.token}/", image_url):
        assert client.get(url)["Referrer-Policy"] == "strict-origin", url


def test_gunicorns_access_and_error_logs_tag_tokens(tmp_path):
    token = "Zyx-wvu_9876543210ZYXWVUTSRQPON"
    cfg = Config()
    cfg.set("accesslog", str(tmp_path / "access.log"))
    cfg.set("errorlog", str(tmp_path / "error.log"))
    logger = GunicornLogger(cfg)
    referer = f"https://mirage.example.org/r/{token}/read/"
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/api/reader/{token}/?x=1", "PATH_INFO": f"/api/reader/{token}/",
               "QUERY_STRING": "x=1", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
               "HTTP_REFERER": referer, "HTTP_USER_AGENT": "test"}
    logger.access(SimpleNamespace(status="200 OK", sent=12, headers=[]), SimpleNamespace(headers=[("REFERER", referer)]),
                  environ, datetime.timedelta(milliseconds=3))
    logger.error("Error handling request %s", environ["RAW_URI"])
    for handler in logger.access_log.handlers + logger.error_log.handlers:
        handler.flush()
    access = (tmp_path / "access.log").read_text()
    error = (tmp_path / "error.log").read_text()
    assert token not in access and token not in error
    tag = token_tag(token)
    assert f'"GET /api/reader/{tag}/?x=1 HTTP/1.1" 200 12 "https://mirage.example.org/r/{tag}/read/"' in access
    assert f"Error handling request /api/reader/{tag}/?x=1" in error


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_run_with_the_logger_class_logs_no_token(tmp_path):
    token = "Qrs-tuv_1234567890abcdefghijkLM"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIRAGE_", "DATABASE_URL", "DJANGO_"))}
    env.update(MIRAGE_VAR_DIR=str(tmp_path), MIRAGE_SECRET_KEY="gunicorn-test-secret-" * 3)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "readerstudy.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--access-logfile", "-", "--logger-class", "readerstudy.logging.GunicornLogger"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/r/{token}/nope/",
                                         headers={"Referer": f"http://127.0.0.1:{port}/r/{token}/read/"})
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(request, timeout=5)
            except urllib.error.HTTPError as error:
                assert error.code == 404
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.2)
        time.sleep(0.5)  # let the access line reach the pipe
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    output = out + err
    tag = "[" + hmac.new(env["MIRAGE_SECRET_KEY"].encode(), token.encode(), hashlib.sha256).hexdigest()[:6] + "]"
    assert token not in output, output
    assert f"GET /r/{tag}/nope/ HTTP/1.1" in output and f"/r/{tag}/read/" in output, output
    assert f"Not Found: /r/{tag}/nope/" in output, output


def test_a_task_ended_by_stopping_its_worker_is_one_line_and_a_real_failure_keeps_its_traceback(console):
    tasks = logging.getLogger("django_tasks")
    level = tasks.level  # db_worker sets it from its --verbosity; a worker run by another test may have
    tasks.setLevel(logging.INFO)
    try:
        for error in (SystemExit(1), ValueError("a bug in a metric")):
            try:
                raise error
            except BaseException:
                tasks.exception("Task id=%s path=%s state=%s", "t1", "readerstudy.tasks.quality_report", "FAILED")
    finally:
        tasks.setLevel(level)
    lines = console.getvalue().splitlines()
    assert lines[0] == ("Task id=t1 path=readerstudy.tasks.quality_report state=FAILED (the task worker was "
                        "stopped)")
    assert lines[1].startswith("Task id=t1") and lines[2] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: a bug in a metric"
