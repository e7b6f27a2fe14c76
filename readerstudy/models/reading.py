"""Trials (one or more images each) and the one response each trial may receive."""
from __future__ import annotations

from django.db import models

from .pool import ImageClass, PoolImage
from .study import Reader, new_token


class TrialKind(models.TextChoices):
    PRACTICE = "practice", "Practice"
    MAIN = "main", "Main"
    REPEAT = "repeat", "Repeat"
    CATCH = "catch", "Catch"


class ReadingSession(models.Model):
    """One sitting of a reader (a browser that opened the link); pause/resume starts a new one."""

    reader = models.ForeignKey(Reader, related_name="sessions", on_delete=models.CASCADE)
    started_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    user_agent = models.CharField(max_length=400, blank=True)

    class Meta:
        ordering = ["started_at"]


class Trial(models.Model):
    reader = models.ForeignKey(Reader, related_name="trials", on_delete=models.CASCADE)
    index = models.PositiveIntegerField(help_text="Position in the reader's sequence, from 0.")
    kind = models.CharField(max_length=10, choices=TrialKind.choices, default=TrialKind.MAIN)
    block = models.PositiveIntegerField(default=0)
    resolution = models.PositiveIntegerField()
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    odd_position = models.PositiveSmallIntegerField(null=True, blank=True)
    repeat_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="repeats")
    exposure_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Requested exposure, when timed.")
    first_served_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["reader", "index"]
        constraints = [models.UniqueConstraint(fields=["reader", "index"], name="unique_trial_index_per_reader")]

    def __str__(self) -> str:
        return f"trial {self.index} of {self.reader}"

    @property
    def truth(self) -> str:
        """The class to detect: the single image's class, or the odd image's class in forced choice."""
        images = list(self.images.all())
        if self.odd_position is not None:
            return images[self.odd_position].image.image_class
        return images[0].image.image_class


class TrialImage(models.Model):
    trial = models.ForeignKey(Trial, related_name="images", on_delete=models.CASCADE)
    position = models.PositiveSmallIntegerField()
    image = models.ForeignKey(PoolImage, on_delete=models.PROTECT, related_name="trial_images")
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)

    class Meta:
        ordering = ["trial", "position"]
        constraints = [models.UniqueConstraint(fields=["trial", "position"], name="unique_position_per_trial")]


class Response(models.Model):
    """A reader's answer. The one-to-one key makes a second answer to the same trial impossible."""

    trial = models.OneToOneField(Trial, related_name="response", on_delete=models.CASCADE)
    answer = models.CharField(max_length=10, choices=ImageClass.choices, blank=True)
    chosen_position = models.PositiveSmallIntegerField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)
    correct = models.BooleanField(null=True, help_text="Computed on the server; empty for ratings.")
    timed_out = models.BooleanField(default=False)
    client_key = models.CharField(max_length=64, blank=True, help_text="Idempotency key sent by the page.")
    client_response_ms = models.FloatField(null=True, blank=True, help_text="Image shown to answer, in the page.")
    client_exposure_ms = models.FloatField(null=True, blank=True, help_text="Measured time the image was on screen.")
    exposure_ok = models.BooleanField(null=True, help_text="False when the image could not be shown as long as asked.")
    displayed_width = models.FloatField(null=True, blank=True)
    displayed_height = models.FloatField(null=True, blank=True)
    device_pixel_ratio = models.FloatField(null=True, blank=True)
    served_at = models.DateTimeField(null=True, blank=True, help_text="Server time the trial was first served.")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at"]

    @property
    def server_response_ms(self) -> float | None:
        if self.served_at is None:
            return None
        return (self.received_at - self.served_at).total_seconds() * 1000.0
