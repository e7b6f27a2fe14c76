"""The people, invitations and URLs of the authorization table (test_authorization_table.py).

One study is read by an invited reader (A), beside a revoked one (R), an excluded one (X) and one invited
on an account (K, dora's); another study has its own reader (B). People log in as alice (coordinator),
bob (analyst) and charlie (no role), named as in the conftest, or send alice's API token. Each role holds one
invitation (or none: then an unknown token is in the URL) and reaches for one reader's trials: its own,
or for another study's reader, A's.
"""
from __future__ import annotations

import copy
import re
from urllib.parse import urlencode
from dataclasses import dataclass

from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.test import Client
from django.urls import URLResolver, get_resolver, resolve
from django.utils import timezone
from rest_framework.authtoken.models import Token, TokenProxy

from axes.models import AccessAttempt, AccessFailureLog

from readerstudy.models import Reader, ReadingSession, Response, Study, Trial
from readerstudy.services import Submission, submit_response

from ..readerstudy.helpers import invite

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
UNKNOWN_TOKEN = "NoSuchInvitation0000000000000000"


@dataclass(frozen=True)
class Role:
    name: str
    user: str | None = None       # logged in (session) as this person
    api_token: bool = False        # sends alice's API token instead
    holds: str | None = None       # the invitation in the URL (a reader's key), or an unknown token
    reaches: str | None = None     # whose trial and images the URL and body name (default: the held one's)


ROLES = [
    Role("anonymous"),
    Role("reader", holds="A"),
    Role("another study's reader", holds="B", reaches="A"),
    Role("revoked reader", holds="R"),
    Role("excluded reader", holds="X"),
    Role("account invitation, anonymous", holds="K"),
    Role("account invitation, wrong account", user="charlie", holds="K"),
    Role("account invitation, its account", user="dora", holds="K"),
    Role("non-staff user", user="charlie"),
    Role("analyst", user="bob"),
    Role("coordinator", user="alice"),
    Role("coordinator's API token", api_token=True),
]
ROLE_NAMES = [role.name for role in ROLES]


def walk(patterns=None, prefix: str = "", namespace: str | None = None):
    """(route, name, pattern) of every URL pattern, include()s followed, names with their namespaces."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace if pattern.namespace and not namespace else (
                f"{namespace}:{pattern.namespace}" if pattern.namespace else namespace)
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        else:
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield prefix + str(pattern.pattern), name, pattern


_PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>|\(\?P<(?P<group>\w+)>[^)]*\)")


def fill(route: str, values: dict[str, str]) -> str:
    """The URL of `route` with each parameter (path converter or regex group) replaced from `values`."""
    def replace(match):
        value = str(values[match.group("name") or match.group("group")])
        return f".{value}" if match.group("converter") == "drf_format_suffix" else value

    url = _PARAMETER.sub(replace, route)
    url = url.replace("^", "").replace("$", "").replace("\\.", ".").replace("/?", "/")
    return "/" + url


class World:
    """Everything the table's requests need, made once per test; each request is rolled back after."""

    def __init__(self, study: Study, other_study: Study, users: dict):
        self.study, self.other_study, self.users = study, other_study, users
        users["dora"] = get_user_model().objects.create_user("dora", password="dora-pass-123")
        self.readers = {
            "A": invite(study, "Reader A"),
            "B": invite(other_study, "Reader B"),
            "R": invite(study, "Revoked R"),
            "X": invite(study, "Excluded X"),
            "K": invite(study, "Account K", user=users["dora"]),
        }
        Reader.objects.filter(pk=self.readers["R"].pk).update(revoked_at=timezone.now())
        Reader.objects.filter(pk=self.readers["X"].pk).update(excluded=True, exclusion_reason="test")
        first = self.current_trial("A")
        submit_response(self.readers["A"], Submission(trial_token=first.token, answer="real"))
        self.response = Response.objects.get(trial=first)
        # A row in every table the admin shows, so each of its object pages has an object to refuse.
        ReadingSession.objects.create(reader=self.readers["A"], user_agent="test")
        attempt = dict(user_agent="test", ip_address="192.0.2.1", username="mallory", http_accept="*/*",
                       path_info="/accounts/login/")
        AccessAttempt.objects.create(**attempt, get_data="", post_data="", failures_since_start=1)
        AccessFailureLog.objects.create(**attempt)
        self.api_token = Token.objects.create(user=users["alice"]).key
        self.clients = {role.name: self._client(role) for role in ROLES}
        self._values: dict[str, dict] = {}
        self.initial = snapshot()

    def _client(self, role: Role) -> Client:
        client = Client(HTTP_AUTHORIZATION=f"Token {self.api_token}") if role.api_token else Client()
        if role.user:
            client.force_login(self.users[role.user])
        return client

    def current_trial(self, key: str) -> Trial:
        return self.readers[key].trials.filter(response__isnull=True).order_by("index").first()

    def values(self, role: Role, **extra) -> dict[str, str]:
        """Every URL parameter and body placeholder, as this role fills them."""
        if role.name not in self._values:
            self._values[role.name] = self._fill_values(role)
        return {**self._values[role.name], **extra}

    def admin_object(self, route: str) -> int:
        """The pk of the first object of the model whose admin `route` belongs to."""
        for model in admin.site._registry:
            if route.startswith(f"admin/{model._meta.app_label}/{model._meta.model_name}/"):
                key = "user_id" if model is TokenProxy else "pk"  # DRF's token admin names a token by its user
                return model._base_manager.order_by("pk").values_list(key, flat=True).first()
        return self.study.pk

    def _fill_values(self, role: Role) -> dict[str, str]:
        held = self.readers.get(role.holds)
        target = self.readers[role.reaches or role.holds or "A"]
        trial = self.current_trial(next(k for k, r in self.readers.items() if r == target))
        user = self.users["charlie"]
        values = {
            "token": held.token if held else UNKNOWN_TOKEN,
            "image_token": trial.images.order_by("position").first().token,
            "trial_token": trial.token,
            "study": self.study.pk, "pool": self.study.pool_id, "reader": self.readers["A"].pk,
            "pk": self.study.pk, "reader_pk": self.readers["A"].pk,
            "trial": self.response.trial_id, "response": self.response.pk,
            "uid": self.study.pool.images.order_by("pk").first().uid,
            "format": "json", "app_label": "readerstudy", "url": "no-such-page/",
            "user": user.pk, "id": user.pk,
            "content_type_id": ContentType.objects.get_for_model(Study).pk, "object_id": self.study.pk,
        }
        return values


def snapshot() -> dict:
    """Every row of every model's table, as the database returns it: a refused request must leave all of
    it as it was (read with plain SQL: the ORM's conversions would cost more than the requests)."""
    state = {}
    with connection.cursor() as cursor:
        for model in apps.get_models():
            table, pk = (connection.ops.quote_name(model._meta.db_table),
                         connection.ops.quote_name(model._meta.pk.column))
            cursor.execute(f"SELECT * FROM {table} ORDER BY {pk}")
            state[model._meta.label] = cursor.fetchall()
    return state


def changed(before: dict, after: dict) -> list[str]:
    return [label for label in before if before[label] != after[label]]


def rows_written() -> int:
    """Rows this connection has inserted, updated or deleted so far (in this transaction, on PostgreSQL)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT total_changes()")
        else:
            cursor.execute("SELECT COALESCE(SUM(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_xact_user_tables")
        return int(cursor.fetchone()[0])


def send(world: World, role: Role, method: str, url: str, body: tuple | None) -> tuple[object, list[str]]:
    """One request as `role`, rolled back afterwards: (response, what it wrote).

    Any row inserted, updated or deleted counts, even one written back as it was; the models are named by
    comparing every table with the world as it was made (every request before was rolled back too).
    `body` is ("json", data) or ("form", data) (sent as the page's form would be), or None.
    """
    client = world.clients[role.name]
    cookies = copy.deepcopy(client.cookies)  # a logout or a message must not change the next request's role
    kwargs = {}
    if body is not None:
        kind, data = body
        if kind == "json":
            kwargs = {"data": data, "content_type": "application/json"}
        elif method == "POST":
            kwargs = {"data": data}
        else:
            kwargs = {"data": urlencode(data), "content_type": "application/x-www-form-urlencoded"}
    with transaction.atomic():
        before = rows_written()
        response = getattr(client, method.lower())(url, **kwargs)
        written = []
        if rows_written() != before:
            written = changed(world.initial, snapshot()) or ["rows written and written back"]
        transaction.set_rollback(True)
    client.cookies = cookies
    return response, written


def outcome(response) -> object:
    """A response as the table writes it: the status, or "login" / "admin login" for a redirect there."""
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith("/accounts/login/"):
            return "login"
        if location.startswith("/admin/login/"):
            return "admin login"
    return response.status_code


def check_resolves(url: str, pattern) -> None:
    match = resolve(url.split("?")[0])
    assert match.func == pattern.callback or getattr(match.func, "cls", None) is getattr(pattern.callback, "cls", 0), (
        f"{url} does not reach {pattern}")
def render(body, values: dict):
    """`body` with each "{name}" string replaced by that value (of its own type)."""
    if isinstance(body, dict):
        return {key: render(item, values) for key, item in body.items()}
    if isinstance(body, list):
        return [render(item, values) for item in body]
    if isinstance(body, str) and body.startswith("{") and body.endswith("}"):
        return values[body[1:-1]]
    return body
