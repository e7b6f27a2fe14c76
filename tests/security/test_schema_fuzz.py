"""Fuzzing the API from its own OpenAPI schema (/api/schema/) with schemathesis.

Every operation gets requests generated from the schema, valid and invalid (each parameter and body field
at its bounds, of the wrong type, missing, ...): as a coordinator with an API token for the coordinator and
analyst API, and as an invited reader (the invitation token in the path) for the reader API. No answer may
be a server error (5xx), and every answer must be one the schema documents: its status, media type, headers
and body. Bounded: the coverage phase's cases (each parameter at its bounds, of a wrong type, missing...)
and 30 generated requests per operation, each within a deadline.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (content_type_conformance, ignored_auth, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from ..readerstudy.helpers import invite

pytestmark = pytest.mark.django_db

CONFIG = r"""
[generation]
max-examples = 30

[phases.examples]
enabled = true
[phases.coverage]
enabled = true
[phases.fuzzing]
enabled = true
[phases.stateful]
enabled = false

# A study's body has some 35 fields: the coverage phase makes about 900 cases of each such operation, which
# would take most of this test's time; generated bodies reach them instead.
[[operations]]
include-path-regex = '^/api/studies/(\{id\}/)?$'
include-method-regex = '^(POST|PUT|PATCH)$'
phases.coverage.enabled = false
"""


# Requests are not held to the schema (negative_data_rejection): DRF's fields take 0 for false and 5 for
# "5", as a form (text only) needs, in JSON too. Every answer is held to it.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
BOUNDED = settings(max_examples=30, deadline=timedelta(seconds=5), database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                          HealthCheck.function_scoped_fixture])


@pytest.fixture
def people(study, alice, make_study):
    """A coordinator's API token, and an invited reader with trials to answer."""
    reader = invite(study, "Fuzzed reader")
    invite(make_study(name="Another study"), "Another reader")
    return {"token": Token.objects.create(user=alice).key, "reader": reader}


@pytest.fixture
def application():
    """Mirage's WSGI application, on the test's database connection: as Django's test client does, the
    connection is not closed at the end of each request (that would close the test's transaction)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from readerstudy.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(people, application):
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", application,
                                          config=SchemathesisConfig.from_str(CONFIG))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.exclude(path_regex=r"^/api/reader/").parametrize()
@BOUNDED
def test_the_coordinator_api_answers_only_as_its_schema_says(case, people):
    response = case.call_and_validate(headers={"Authorization": f"Token {people['token']}"},
                                      checks=CHECKS, additional_checks=[ignored_auth])  # raises on a failed check
    assert response.status_code < 500


@schema.include(path_regex=r"^/api/reader/").parametrize()
@BOUNDED
def test_the_reader_api_answers_only_as_its_schema_says(case, people):
    reader = people["reader"]
    # The reader's own invitation in the path; their current trial and one of its images when the
    # generated request names one, so that answers are stored and images served, not only refused.
    current = reader.trials.filter(response__isnull=True).order_by("index").first()
    if "token" in (case.path_parameters or {}):
        case.path_parameters["token"] = reader.token
    if current is not None:
        if "image_token" in case.path_parameters:
            case.path_parameters["image_token"] = current.images.order_by("position").first().token
        if isinstance(case.body, dict) and isinstance(case.body.get("trial"), str):
            case.body["trial"] = current.token
    response = case.call_and_validate(checks=CHECKS)  # raises on a failed check
    assert response.status_code < 500
