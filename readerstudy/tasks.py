"""Background tasks (Django's Tasks framework through django-tasks; run by `manage.py db_worker`)."""
from __future__ import annotations

from django_tasks import task


@task()
def quality_report(run_id: int) -> str:
    """A pool's quality report: see `readerstudy.quality.run_quality_report`."""
    from .quality import run_quality_report

    return run_quality_report(run_id)
