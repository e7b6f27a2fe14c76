"""Pools: a registered copy of a `generation` pool directory and its images."""
from __future__ import annotations

from pathlib import Path

from django.db import models


class ImageClass(models.TextChoices):
    REAL = "real", "Real"
    SYNTHETIC = "synthetic", "Synthetic"


class Pool(models.Model):
    name = models.CharField(max_length=200, unique=True)
    directory = models.CharField(max_length=500, help_text="Where the pool's files live on the server.")
    manifest_sha256 = models.CharField(max_length=64, unique=True)
    code_version = models.CharField(max_length=50, blank=True)
    settings = models.JSONField(default=dict, blank=True)
    audit_warnings = models.JSONField(
        null=True, blank=True,
        help_text="`generation pool check` at import: real/synthetic differences other than content.")
    audited_properties = models.JSONField(
        null=True, blank=True, help_text="What that audit compared (labels); empty for pools audited before "
                                         "this was recorded.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def path(self) -> Path:
        return Path(self.directory)

    def resolutions(self) -> list[int]:
        return sorted(set(self.images.values_list("resolution", flat=True)))


class PoolImage(models.Model):
    """One rendition (one resolution) of one source image. `source` is for coordinators only."""

    pool = models.ForeignKey(Pool, related_name="images", on_delete=models.CASCADE)
    uid = models.CharField(max_length=64, help_text="Opaque id from the manifest.")
    source_id = models.CharField(max_length=64, db_index=True)
    image_class = models.CharField(max_length=10, choices=ImageClass.choices)
    resolution = models.PositiveIntegerField()
    file = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)
    source = models.TextField(blank=True)
    generator = models.JSONField(null=True, blank=True)
    label = models.CharField(max_length=100, blank=True)
    role = models.CharField(max_length=10, choices=[("main", "Main"), ("catch", "Catch (obviously synthetic)")],
                            default="main")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pool", "uid"], name="unique_image_uid_per_pool")]
        indexes = [models.Index(fields=["pool", "resolution", "image_class"])]

    def __str__(self) -> str:
        return f"{self.pool.name}:{self.uid[:8]}@{self.resolution}"

    @property
    def path(self) -> Path:
        return self.pool.path / self.file
