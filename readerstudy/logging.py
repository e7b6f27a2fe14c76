"""Logging without invitation tokens, and client errors on one line.

An invitation token in a URL (/r/<token>/..., /api/reader/<token>/...) is a reader's credential: whoever
reads it can read and answer as that reader. It would reach the logs in Django's 4xx warnings ("Not
Found: /api/reader/<token>/..."), in gunicorn's access log (the request line and the Referer) and in error
messages. `InvitationTokenFilter` replaces each by a tag, the first 6 hex digits of an HMAC of the token
keyed with SECRET_KEY, so one reader's requests can still be followed through a log but the tag cannot be
turned back into the token. Django's handlers get it from settings.LOGGING; gunicorn's access and error
logs from `GunicornLogger` (``gunicorn --logger-class readerstudy.logging.GunicornLogger``).

`ClientErrorsOnOneLine` drops the traceback Django attaches to a 4xx it logs (a PermissionDenied raised by
a view is logged with its whole stack): a refused request is one line, not an error to debug.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from functools import cache

from gunicorn.glogging import Logger

# The token is the path segment after /r/ or /api/reader/ (URL-safe base64 letters, as TokenConverter).
TOKEN_IN_PATH = re.compile(r"(/r/|/api/reader/)([A-Za-z0-9_-]+)")


@cache
def _process_key() -> bytes:
    return secrets.token_bytes(32)


def _key() -> bytes:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return settings.SECRET_KEY.encode()
    except ImproperlyConfigured:  # gunicorn's master process, before the application is loaded
        return _process_key()


def token_tag(token: str) -> str:
    """The tag that stands for `token` in logs: the same for the same token under the same SECRET_KEY."""
    return "[" + hmac.new(_key(), token.encode(), hashlib.sha256).hexdigest()[:6] + "]"


def redact(text: str) -> str:
    """`text` with every invitation token in a reader URL replaced by its tag."""
    return TOKEN_IN_PATH.sub(lambda match: match.group(1) + token_tag(match.group(2)), text)


class InvitationTokenFilter(logging.Filter):
    """Replace invitation tokens in a record's message, traceback and stack by their tags."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class ClientErrorsOnOneLine(logging.Filter):
    """Log a response with a 4xx status without the exception that led to it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if 400 <= getattr(record, "status_code", 0) < 500:
            record.exc_info, record.exc_text = None, None
        return True


class StoppedWorkerOnOneLine(logging.Filter):
    """A background task ended because its worker was told to stop (Ctrl-C, a TERM): one line, not the
    traceback of the stop that reached it; a task's real failures keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], (SystemExit, KeyboardInterrupt)):
            record.msg = f"{record.msg} (the task worker was stopped)"
            record.exc_info, record.exc_text = None, None
        return True


class GunicornLogger(Logger):
    """gunicorn's logger, with invitation tokens replaced by their tags in its access and error logs."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            if not any(isinstance(f, InvitationTokenFilter) for f in log.filters):
                log.addFilter(InvitationTokenFilter())
