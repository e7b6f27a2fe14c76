"""Settings come from the environment; production settings pass `manage.py check --deploy`."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args, **env):
    # A clean process: nothing from this test run's own settings (the browser tests, sharing an xdist
    # worker, set DJANGO_ALLOW_ASYNC_UNSAFE, which the deployment checklist rightly refuses).
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("MIRAGE_", "DATABASE_URL")) and k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    full_env.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=120)


def test_production_settings_pass_the_deployment_checklist(tmp_path):
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        MIRAGE_SECRET_KEY="k" * 60 + "-production-secret-xyz", MIRAGE_SECURE="1", MIRAGE_ALLOWED_HOSTS="mirage.example.org",
        MIRAGE_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_development_defaults_are_flagged_by_the_deployment_checklist(tmp_path):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", MIRAGE_VAR_DIR=str(tmp_path))
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_a_bad_boolean_in_the_environment_fails_loudly(tmp_path):
    result = run_manage("check", MIRAGE_DEBUG="perhaps", MIRAGE_VAR_DIR=str(tmp_path))
    assert result.returncode != 0 and "MIRAGE_DEBUG='perhaps'" in result.stderr


def test_database_url_selects_postgresql():
    code = ("import os; os.environ['DATABASE_URL']='postgres://u:p@db.example:5433/mirage';"
            "import readerstudy.settings as s; d=s.DATABASES['default'];"
            "print(d['ENGINE'], d['HOST'], d['PORT'], d['NAME'])")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["django.db.backends.postgresql", "db.example", "5433", "mirage"]


def test_a_database_other_than_sqlite_or_postgresql_is_refused_at_start(tmp_path):
    result = run_manage("check", DATABASE_URL="mysql://u:p@db.example/mirage", MIRAGE_VAR_DIR=str(tmp_path))
    assert result.returncode != 0 and "DATABASE_URL must name SQLite or PostgreSQL" in result.stderr
