"""Racing submissions (a double click, two tabs, a retry after a lost acknowledgement) store one answer.

Runs on SQLite in the default pass and on PostgreSQL in the second pass of `make test`.
"""
from __future__ import annotations

import threading

import pytest
from django.db import connection

from readerstudy.models import Response
from readerstudy.services import Submission, submit_response

from .helpers import invite

pytestmark = pytest.mark.django_db(transaction=True)


def test_simultaneous_submissions_for_one_trial_store_exactly_one_answer(study):
    reader = invite(study, "Racer")
    token = reader.trials.order_by("index").first().token
    barrier = threading.Barrier(4)
    outcomes: list = []

    def submit(answer: str) -> None:
        try:
            barrier.wait()
            response, created = submit_response(reader, Submission(trial_token=token, answer=answer))
            outcomes.append((response.answer, created))
        except Exception as exc:  # recorded and asserted below
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(a,)) for a in ("real", "synthetic", "real", "synthetic")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sum(created for _, created in outcomes) == 1
    stored = Response.objects.get(trial__token=token)
    assert all(answer == stored.answer for answer, _ in outcomes)
    assert Response.objects.count() == 1
