"""Benchmarks' own PostgreSQL databases: made empty for one run, dropped after it."""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit, urlunsplit


class DatabaseError(Exception):
    """The bench database could not be made; the message says where and why."""


def create_database(admin_url: str) -> str:
    """A new, empty database owned by the URL's role; returns its URL."""
    import psycopg

    name = f"mirage_bench_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise DatabaseError(f"Could not create a bench database through {redact(admin_url)}: {exc}".strip()) from None
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_database(admin_url: str, url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urlunsplit(parts)
