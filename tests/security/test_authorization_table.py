"""Who may do what: every URL pattern, for every role and every method, against one table of outcomes.

The table below is the whole policy as data. Each URL pattern Mirage serves (walked from the URL conf,
include()s followed, so a new route without a row fails) has a row; each row says, per method, what each
role gets: a status, "login" (sent to the login page), or "admin login". A 2xx or a redirect elsewhere is
an allowed request and may change data; anything else is refused, and a refused request must write
nothing at all (no row inserted, updated or deleted in any table). The people and invitations are in
authz.py; `.json`-suffixed API routes follow their route's row.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import override_settings

from .authz import METHODS, ROLE_NAMES, ROLES, World, check_resolves, fill, outcome, render, send, walk

pytestmark = pytest.mark.django_db

# ----------------------------------------------------------------------------- roles, grouped

GROUPS = {
    # Nobody logged in: an invitation token (or none) is all they have.
    "no login": ["anonymous", "reader", "another study's reader", "revoked reader", "excluded reader",
                 "account invitation, anonymous"],
    # Logged in with an account that has no role (charlie; dora, whose account an invitation was made for).
    "no role": ["non-staff user", "account invitation, wrong account", "account invitation, its account"],
    "api token": ["coordinator's API token"],
    "everyone": ROLE_NAMES,
}


@dataclass(frozen=True)
class Allowed:
    """An allowed outcome that is no 2xx nor a plain redirect (a logout ends on the login page)."""
    outcome: object


def cells(spec: dict) -> dict[str, object]:
    """Role -> outcome, from a spec naming roles and groups; every role exactly once."""
    out: dict[str, object] = {}
    for key, value in spec.items():
        for role in GROUPS.get(key, [key]):
            assert role in ROLE_NAMES, f"unknown role {role!r}"
            assert role not in out, f"{role!r} given twice"
            out[role] = value
    assert set(out) == set(ROLE_NAMES), f"no outcome for {sorted(set(ROLE_NAMES) - set(out))}"
    return out


@dataclass
class Row:
    expect: dict[str, dict]                          # method -> role -> outcome
    values: dict = field(default_factory=dict)       # URL parameters beyond the roles' own
    body: dict = field(default_factory=dict)         # method -> ("json" | "form", data)
    pending: dict = field(default_factory=dict)      # method -> why the code does not do this yet


def methods(**by_method) -> dict[str, dict]:
    """Per method a spec; `other` is for every method not named."""
    other = by_method.pop("other", None)
    return {m: cells(by_method.get(m, other)) for m in METHODS}


def everyone(outcome_) -> dict:
    return {"everyone": outcome_}


# Pages for one role: logged-out people (and API tokens, which pages ignore) go to the login page, accounts
# without the role get 403, the role gets its outcome per method, and 405 for any other method.
def coordinator_page(**ok) -> dict[str, dict]:
    return {m: cells({"no login": "login", "api token": "login", "no role": 403, "analyst": 403,
                      "coordinator": ok.get(m, 405)}) for m in METHODS}


def analyst_page(**ok) -> dict[str, dict]:
    return {m: cells({"no login": "login", "api token": "login", "no role": 403, "analyst": ok.get(m, 405),
                      "coordinator": ok.get(m, 405)}) for m in METHODS}


# The API for coordinators and analysts: 401 without credentials, 403 for accounts without a role, then
# per method (analyst, coordinator); the coordinator's API token does what the coordinator does.
def api(default: tuple, **by_method: tuple) -> dict[str, dict]:
    rows = {}
    for m in METHODS:
        analyst, coordinator = by_method.get(m, default)
        rows[m] = cells({"no login": 401, "no role": 403, "analyst": analyst, "coordinator": coordinator,
                         "api token": coordinator})
    return rows


# An invitation's own URL: the token is the credential. `ok` for the reader it belongs to (and for an
# account invitation opened with its account); `foreign` when the URL names another reader's trial.
def invitation(ok, *, account_anonymous, foreign=None) -> dict:
    return cells({"reader": ok, "another study's reader": ok if foreign is None else foreign,
                  "account invitation, its account": ok, "revoked reader": 410, "excluded reader": 403,
                  "account invitation, anonymous": account_anonymous, "account invitation, wrong account": 403,
                  "anonymous": 404, "non-staff user": 404, "analyst": 404, "coordinator": 404,
                  "coordinator's API token": 404})


def reader_api(method: str, ok, foreign=None) -> dict[str, dict]:
    return {m: invitation(ok, account_anonymous=401, foreign=foreign) if m == method else cells(everyone(405))
            for m in METHODS}


STUDY_BODY = {"name": "API study", "pool": "{pool}", "resolutions": [32, 64, 96], "trials_per_resolution": 2}

# ----------------------------------------------------------------------------- the table

TABLE: dict[str, Row] = {
    # Site
    "home": Row(methods(other={"no login": "login", "api token": "login", "no role": 302, "analyst": 302,
                               "coordinator": 302})),
    "health": Row(methods(other=everyone(200))),
    "login": Row(methods(GET=everyone(200), POST=everyone(200), PUT=everyone(200), other=everyone(405))),
    "logout": Row(methods(POST={"no login": "login", "api token": "login", "no role": Allowed("login"),
                                "analyst": Allowed("login"), "coordinator": Allowed("login")},
                          other=everyone(405))),
    "schema": Row(methods(GET=everyone(200), other=everyone(405))),
    "api-docs": Row(methods(GET=everyone(200), other=everyone(405))),
    "api:api-root": Row(methods(GET={"no login": 401, "no role": 200, "analyst": 200, "coordinator": 200,
                                     "api token": 200},
                                other={"no login": 401, "no role": 405, "analyst": 405, "coordinator": 405,
                                       "api token": 405})),
    "api:token": Row(methods(POST=everyone(200), other=everyone(405)),
                     body={"POST": ("json", {"username": "alice", "password": "alice-pass-123"})}),

    # Reader pages and the reader API
    "my-studies": Row(methods(other={"no login": "login", "api token": "login", "no role": 200, "analyst": 200,
                                     "coordinator": 200})),
    "reader-start": Row(methods(GET=invitation(302, account_anonymous="login"),
                                POST=invitation(302, account_anonymous="login"), other=everyone(405)),
                        body={"POST": ("form", {"role": "radiologist", "years_experience": "3", "consent": "on"})}),
    # A method a reader page does not serve is refused before the invitation is looked up, for everyone.
    "reader-read": Row(methods(GET=invitation(200, account_anonymous="login"), other=everyone(405))),
    "reader-done": Row(methods(GET=invitation(302, account_anonymous="login"), other=everyone(405))),
    "api-reader-state": Row(reader_api("GET", 200)),
    "api-reader-start": Row(reader_api("POST", 200),
                            body={"POST": ("json", {"role": "radiologist", "years_experience": 3, "consent": True})}),
    "api-reader-responses": Row(reader_api("POST", 201, foreign=404),
                                body={"POST": ("json", {"trial": "{trial_token}", "answer": "real"})}),
    "api-reader-image": Row(reader_api("GET", 200, foreign=404)),

    # Coordinator pages
    "dashboard": Row(coordinator_page(GET=200)),
    "pool-detail": Row(coordinator_page(GET=200), values={"pk": "{pool}"}),
    "pool-image": Row(coordinator_page(GET=200), values={"pk": "{pool}"}),
    "pool-quality-start": Row(coordinator_page(POST=302), values={"pk": "{pool}"}),
    "pool-quality-progress": Row(coordinator_page(GET=302), values={"pk": "{pool}"}),  # without htmx: to the pool
    "pool-quality-file": Row(coordinator_page(GET=404), values={"pk": "{pool}", "run_pk": "1", "name": "quality.html"}),
    "design-preview": Row(coordinator_page(GET=200)),
    "design-power": Row(coordinator_page(GET=200)),
    "study-new": Row(coordinator_page(GET=200, POST=400)),               # an empty form: 400, nothing saved
    "study-detail": Row(coordinator_page(GET=200)),
    "study-edit": Row(coordinator_page(GET=302, POST=302)),             # frozen (it has an answer): back to it
    "study-copy": Row(coordinator_page(POST=302)),
    "study-status": Row(coordinator_page(POST=302), values={"action": "pause"}),
    "study-progress": Row(coordinator_page(GET=200)),
    "study-power": Row(coordinator_page(GET=200)),
    "reader-invite": Row(coordinator_page(POST=302), body={"POST": ("form", {"name": "Invited", "email": ""})}),
    "reader-invite-bulk": Row(coordinator_page(POST=302), body={"POST": ("form", {"readers": "Listed 1\nListed 2"})}),
    "reader-links-csv": Row(coordinator_page(GET=200)),
    "reader-action": Row(coordinator_page(POST=302), values={"action": "exclude"},
                         body={"POST": ("form", {"reason": "left the hospital"})}),

    # Analyst pages
    "results-list": Row(analyst_page(GET=200)),
    "results": Row(analyst_page(GET=200)),
    "results-csv": Row(analyst_page(GET=200)),
    "results-dictionary": Row(analyst_page(GET=200)),
    "results-json": Row(analyst_page(GET=200)),
    "results-html": Row(analyst_page(GET=200)),
    "results-imrmc": Row(analyst_page(GET=200)),

    # The API
    "api:pool-list": Row(api((403, 405), GET=(200, 200)), values={"pk": "{pool}"}),
    "api:pool-detail": Row(api((403, 405), GET=(200, 200)), values={"pk": "{pool}"}),
    "api:pool-quality": Row(api((403, 405), GET=(200, 200), POST=(403, 200)), values={"pk": "{pool}"}),
    # The world's one run is queued: no file yet (test_quality_web reads a finished run's with a token).
    "api:pool-quality-file": Row(api((403, 405), GET=(404, 404)),
                                 values={"pk": "{pool}", "run_pk": "1", "name": "quality.html"}),
    "api:study-list": Row(api((403, 405), GET=(200, 200), POST=(403, 201)), body={"POST": ("json", STUDY_BODY)}),
    # The study has an answer, so its design is frozen: a change is a 400 that names it; with readers it
    # cannot be deleted (400).
    "api:study-detail": Row(api((403, 405), GET=(200, 200), PUT=(403, 400), PATCH=(403, 400), DELETE=(403, 400)),
                            body={"PUT": ("json", STUDY_BODY), "PATCH": ("json", {"name": "Renamed"})}),
    "api:study-copy": Row(api((403, 405), GET=(405, 405), POST=(403, 201))),
    "api:study-transition": Row(api((403, 405), GET=(405, 405), POST=(403, 200)), values={"transition": "pause"}),
    "api:study-report": Row(api((405, 405), GET=(200, 200))),
    "api:study-responses-csv": Row(api((405, 405), GET=(200, 200))),
    "api:reader-list": Row(api((403, 405), GET=(200, 200), POST=(403, 201)), values={"pk": "{reader}"},
                           body={"POST": ("json", {"study": "{study}", "name": "Reader N"})}),
    "api:reader-invite-list": Row(api((403, 405), GET=(405, 405), POST=(403, 201)),
                                  body={"POST": ("json", {"study": "{study}", "readers": "Listed A\nListed B"})}),
    "api:reader-detail": Row(api((403, 405), GET=(200, 200)), values={"pk": "{reader}"}),
    "api:reader-revoke": Row(api((403, 405), GET=(405, 405), POST=(403, 200)), values={"pk": "{reader}"}),
    "api:reader-exclude": Row(api((403, 405), GET=(405, 405), POST=(403, 200)), values={"pk": "{reader}"},
                              body={"POST": ("json", {"reason": "left the hospital"})}),
    "api:trial-list": Row(api((405, 405), GET=(200, 200)), values={"pk": "{trial}"}),
    "api:trial-detail": Row(api((405, 405), GET=(200, 200)), values={"pk": "{trial}"}),
    "api:response-list": Row(api((405, 405), GET=(200, 200)), values={"pk": "{response}"}),
    "api:response-detail": Row(api((405, 405), GET=(200, 200)), values={"pk": "{response}"}),
}


# Django's admin: only staff get past its login page. A staff coordinator without model permissions gets
# 403 on every model page; which model permissions a coordinator has is the admin's own business.
def admin_row(route: str, name: str | None) -> Row:
    staff_only = {"no login": "admin login", "api token": "admin login", "no role": "admin login",
                  "analyst": "admin login"}
    kind = (name or "").rsplit("_", 1)[-1] if name and name.count("_") and "password_change" not in name else name

    def per(**coordinator):
        return {m: cells({**staff_only, "coordinator": coordinator.get(m, coordinator.get("other"))})
                for m in METHODS}

    if name == "admin:login":
        return Row(methods(GET={**{k: 200 for k in staff_only}, "coordinator": 302}, POST=everyone(200),
                           PUT=everyone(200), other=everyone(405)))
    if name == "admin:logout":
        return Row(methods(POST={**{k: 302 for k in staff_only}, "coordinator": Allowed("login")},
                           other={**{k: 302 for k in staff_only}, "coordinator": 405}))
    if name == "admin:index":
        return Row(per(other=200))
    if name == "admin:password_change":
        return Row(per(GET=200, POST=200, PUT=200, other=405))   # an empty form: shown again, nothing saved
    if name in ("admin:password_change_done", "admin:jsi18n"):
        return Row(per(GET=200, other=405))
    if name == "admin:autocomplete":
        return Row(per(GET=403, other=405))
    if name in ("admin:view_on_site", "admin:app_list") or route == "admin/(?P<url>.*)$":
        return Row(per(other=404))
    if name is None and route.endswith("<path:object_id>/"):      # the old change URL: a redirect to it
        return Row(per(other=302))
    if kind in ("changelist", "add", "change", "delete", "history") or (name or "").endswith("_password_change"):
        return Row(per(other=403))
    raise AssertionError(f"no admin rule for {route} ({name})")


def row_for(route: str, name: str | None) -> Row | None:
    if route.startswith("admin/"):
        return admin_row(route, name)
    return TABLE.get(name)


ALL_ROUTES = [(route, name) for route, name, _ in walk()]


def test_every_url_pattern_has_a_row_in_the_table():
    missing = [f"{route} ({name})" for route, name in ALL_ROUTES if row_for(route, name) is None]
    assert not missing, "add these routes to the authorization table: " + ", ".join(missing)
    unused = sorted(set(TABLE) - {name for _, name in ALL_ROUTES})
    assert not unused, f"rows for routes that no longer exist: {unused}"


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, small_pool_dir, tmp_path_factory):
    """The people, studies and invitations, made once for every route's test (each test, and each request
    in it, is rolled back), and everything rolled back at the end."""
    from django.contrib.auth.models import Group

    from readerstudy.models import Study, StudyStatus
    from readerstudy.pools import import_pool

    media = tmp_path_factory.mktemp("authz-media")
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # as the tests' own settings, from conftest
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media, POOL_ROOT=media / "pools",
                                                        PASSWORD_HASHERS=fast):
        assert "test" in connection.settings_dict["NAME"], "not the test database"
        with transaction.atomic():
            pool, _ = import_pool(small_pool_dir, "Test pool", copy=False)
            people = get_user_model().objects
            users = {"alice": people.create_user("alice", password="alice-pass-123", is_staff=True),
                     "bob": people.create_user("bob", password="bob-pass-123"),
                     "charlie": people.create_user("charlie", password="charlie-pass-123")}
            users["bob"].groups.add(Group.objects.get_or_create(name="analysts")[0])
            studies = [Study.objects.create(name=name, pool=pool, status=StudyStatus.OPEN, resolutions=[32, 64, 96],
                                            trials_per_resolution=4, blank_ms=0)
                       for name in ("Resolution study", "Another study")]
            from readerstudy.quality import start_quality_report

            start_quality_report(pool)  # a queued report: its pages and the task admin's have a row to show
            yield World(*studies, users)
            transaction.set_rollback(True)


def refused(expected) -> bool:
    return not isinstance(expected, Allowed) and not (isinstance(expected, int) and (200 <= expected < 300
                                                                                      or expected == 302))


@pytest.mark.parametrize("route, name", ALL_ROUTES, ids=[route for route, _ in ALL_ROUTES])
def test_each_role_gets_what_the_table_says_and_a_refusal_changes_nothing(world, route, name):
    row = row_for(route, name)
    assert row is not None, f"{route} has no row in the table"
    pattern = next(p for r, n, p in walk() if r == route)
    wrong, pending = [], []
    for method in METHODS:
        for role in ROLES:
            values = world.values(role)
            values.update({key: render(value, values) for key, value in row.values.items()})
            if route.startswith("admin/"):
                values["object_id"] = world.admin_object(route)
            url = fill(route, values)
            check_resolves(url, pattern)
            body = row.body.get(method)
            response, written = send(world, role, method, url, body and (body[0], render(body[1], values)))
            expected = row.expect[method][role.name]
            got = outcome(response)
            want = expected.outcome if isinstance(expected, Allowed) else expected
            problem = None
            if got != want:
                problem = f"{method} as {role.name}: {got}, the table says {want}"
            elif refused(expected) and written:
                problem = f"{method} as {role.name}: refused ({got}) but wrote to {', '.join(written)}"
            if problem:
                (pending if method in row.pending else wrong).append(problem)
    assert not wrong, f"{route}:\n" + "\n".join(wrong)
    if row.pending:
        assert pending, f"{route}: fixed ({'; '.join(set(row.pending.values()))}): drop the row's pending note"
        pytest.xfail(f"{route}: {'; '.join(sorted(set(row.pending.values())))}")
