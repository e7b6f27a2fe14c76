"""A pool's quality report run: `python -m generation quality` on the pool, as a background task."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone


class QualityStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


ACTIVE = (QualityStatus.QUEUED, QualityStatus.RUNNING)


class QualityRun(models.Model):
    """One run of the quality report on one pool. Its files stay under `output` once it is done; a later
    run writes under its own key, so a finished report is never overwritten or lost."""

    pool = models.ForeignKey("readerstudy.Pool", related_name="quality_runs", on_delete=models.CASCADE)
    status = models.CharField(max_length=10, choices=QualityStatus.choices, default=QualityStatus.QUEUED)
    stage = models.CharField(max_length=200, blank=True, help_text="The step running now, e.g. '64 px memorisation'.")
    fraction = models.FloatField(default=0.0, help_text="Share of the report's steps done, 0 to 1.")
    options = models.JSONField(default=dict, blank=True, help_text="What run_report was asked: stages, cnn steps...")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    task_id = models.CharField(max_length=64, blank=True, help_text="The background task's result id.")
    worker = models.CharField(max_length=200, blank=True,
                              help_text="host:pid:start of the worker process running it (start: the process's "
                                        "start time, so a later process given the same pid is not taken for it).")
    heartbeat_at = models.DateTimeField(null=True, blank=True,
                                        help_text="When the worker running it last said it is still at work.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why the run failed, for the coordinator.")
    output = models.CharField(max_length=300, blank=True,
                              help_text="Storage key prefix of quality.html, quality.json, flagged.json.")
    files = models.JSONField(default=list, blank=True, help_text="The report's files stored under `output`.")
    summary = models.JSONField(null=True, blank=True,
                               help_text="The figures the pool page shows, per resolution, and the warnings.")

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A second click while a run is queued or running finds that run instead of starting another.
            models.UniqueConstraint(fields=["pool"], condition=Q(status__in=["queued", "running"]),
                                    name="one_active_quality_run_per_pool"),
            models.CheckConstraint(condition=Q(fraction__gte=0) & Q(fraction__lte=1),
                                   name="quality_run_fraction_0_to_1"),
        ]

    def __str__(self) -> str:
        return f"{self.pool.name}: quality report {self.pk} ({self.status})"

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def percent(self) -> int:
        return round(100 * self.fraction)

    @property
    def storage_prefix(self) -> str:
        """The storage key under which the run's files are kept (readerstudy/storage.py)."""
        return f"quality/pool-{self.pool_id}/run-{self.pk}/"

    @property
    def queued_minutes(self) -> int:
        """Whole minutes since the run was queued."""
        return int((timezone.now() - self.created_at) / timedelta(minutes=1))

    @property
    def waiting_long(self) -> bool:
        """Queued for longer than a worker that is running takes to pick a run up: is one running at all?"""
        return self.status == QualityStatus.QUEUED and self.queued_minutes >= QUEUED_TOO_LONG_MINUTES


# A queued run is picked up within seconds by a worker that is running; after this long, the page asks.
QUEUED_TOO_LONG_MINUTES = 3


@receiver(post_delete, sender=QualityRun)
def delete_stored_files(sender, instance: QualityRun, **kwargs) -> None:
    """A run's stored files go with it, also when its pool is deleted (a cascade sends this signal too); once
    the deletion is committed, so that a rolled back one keeps them."""
    from .. import storage

    prefix = instance.storage_prefix  # read now: the instance loses its pk once deleted
    transaction.on_commit(lambda: storage.delete_folder(prefix), using=kwargs.get("using"))
