"""bench/load.py, small: readers answering at once through gunicorn on PostgreSQL, with repeated, racing and
dropped answers and a worker killed mid-run, lose no answer and store none twice."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def postgres_url() -> str:
    url = os.environ.get("MIRAGE_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI requires PostgreSQL for the load bench: MIRAGE_TEST_POSTGRES_URL is not set.")
        pytest.skip("MIRAGE_TEST_POSTGRES_URL is not set: the load bench needs PostgreSQL.")
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("The bench makes its own database: it runs once, in the first pass of `make test`.")
    return url


def test_eight_readers_lose_no_answer_and_store_none_twice_while_a_worker_is_killed(small_pool_dir):
    url = postgres_url()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIRAGE_") and k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "load.py"), "--readers", "8", "--workers", "2", "--duration", "8",
         "--trials", "48", "--think-ms", "20-60", "--duplicate-rate", "0.1", "--race-rate", "0.1",
         "--drop-rate", "0.1", "--pool", str(small_pool_dir), "--database-url", url],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "\nlost 0, duplicated 0\n" in out
    assert re.search(r"worker \d+ killed with SIGKILL [\d.]+ s into the run, while readers were reading; "
                     r"gunicorn had a new worker", out), out
    for event in ("duplicates (sent again after the acknowledgement)", "races (two connections at once)",
                  "dropped (connection closed before the response), then retried"):
        assert re.search(rf"{re.escape(event)}: [1-9]", out), out
    answers = int(re.search(r"Answers: (\d+) acknowledged", out).group(1))
    assert answers >= 20, out
