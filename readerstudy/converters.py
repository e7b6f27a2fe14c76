"""URL converters. Invitation and trial tokens (`secrets.token_urlsafe`) and pool image ids (32 hex
digits) are URL-safe base64 letters only, so anything else in their place is a 404 before any view or
query runs (PostgreSQL refuses a NUL byte in a text parameter with an error, SQLite does not)."""
from __future__ import annotations


class TokenConverter:
    regex = "[A-Za-z0-9_-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
