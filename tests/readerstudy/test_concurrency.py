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


def test_a_reader_invited_while_a_design_is_being_saved_gets_the_saved_design(study, monkeypatch):
    # The design save holds the study's row lock until it commits, so an invitation made meanwhile waits and
    # then builds its schedule from the saved design (on PostgreSQL a lock taken by `.filter(...).exists()`
    # on a row it does not return is no lock at all).
    import readerstudy.services as services
    from readerstudy.models import Study

    late: dict = {}
    original_save = Study.save

    def save(self, *args, **kwargs):
        if not late:
            def invite_now() -> None:
                try:
                    late["reader"] = services.create_reader(Study.objects.get(pk=self.pk), "Late")
                except Exception as exc:  # asserted below
                    late["error"] = exc
                finally:
                    connection.close()

            thread = threading.Thread(target=invite_now)
            thread.start()
            thread.join(timeout=1.0)
            late["waited"], late["thread"] = thread.is_alive(), thread
        return original_save(self, *args, **kwargs)

    monkeypatch.setattr(Study, "save", save)
    study.design, study.alternatives, study.resolutions = "choice", 3, [64]
    services.save_design(study)
    late["thread"].join(timeout=30)
    assert "error" not in late, late.get("error")
    assert late["waited"], "the invitation went through while the design was being saved"
    trials = list(late["reader"].trials.prefetch_related("images"))
    assert trials and all(t.resolution == 64 and len(t.images.all()) == 3 for t in trials)
