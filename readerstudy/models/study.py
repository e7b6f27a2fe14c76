"""Studies (a frozen experimental design over a pool) and their readers."""
from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from ..scheduling import MAX_CATCH_TRIALS, MAX_PRACTICE_TRIALS, MAX_REPEAT_TRIALS, MAX_TRIALS_PER_RESOLUTION
from .pool import ImageClass, Pool


def new_seed() -> int:
    return secrets.randbits(48)


def new_token() -> str:
    return secrets.token_urlsafe(24)


def default_resolutions() -> list[int]:
    return [32, 64, 128, 256]


def default_exposure_levels() -> list[int]:
    return [100, 200, 400, 800]


def default_rating_labels() -> list[str]:
    return ["Clearly synthetic", "Probably synthetic", "Probably real", "Clearly real"]


MIN_EXPOSURE_MS = 17  # one frame at 60 Hz
MAX_EXPOSURE_MS = 60_000
MAX_BLANK_MS = 10_000
EXPOSURE_LEVELS = (2, 8)  # how many exposures constant stimuli may use
FULL_HD_WINDOW = (1920, 950)  # CSS px inside a maximised browser on a 1920 x 1080 screen


class StudyStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    PAUSED = "paused", "Paused"
    CLOSED = "closed", "Closed"


class Design(models.TextChoices):
    SINGLE = "single", "Single image: real or synthetic?"
    CHOICE = "choice", "Forced choice among n images"
    RATING = "rating", "Realism rating"


class CaseSet(models.TextChoices):
    SHARED = "shared", ("Shared case set: every reader reads the same images at each resolution "
                        "(valid reader- and image-random analysis)")
    RANDOM = "random", "Random subset per reader"


class ExposureMode(models.TextChoices):
    NONE = "none", "Untimed"
    FIXED = "fixed", "Fixed exposure"
    CONSTANT = "constant", "Several fixed exposures, in random order (method of constant stimuli)"
    # Kept for the studies that already use it: each exposure follows the last answer's correctness, so a
    # reader can work out the answers from the exposures. New studies cannot choose it (Study.clean).
    STAIRCASE = "staircase", "Adaptive staircase"


# When a design field means something, as data: field -> {controlling field: when it applies}. A list gives
# the controlling field's values under which the field applies; {"above": n} asks for a number above n.
# Every condition of a field must hold; a field not named here applies to every design. One rule for the
# study summary (Study.design_fields_that_apply), the design form (which ignores, when saving, a field that
# does not apply) and the form's script (static/mirage/design_form.mjs, which hides it as the design changes).
APPLIES_WHEN: dict[str, dict[str, list[str] | dict[str, int]]] = {
    "alternatives": {"design": [Design.CHOICE.value]},
    "odd_class": {"design": [Design.CHOICE.value]},
    "synthetic_fraction": {"design": [Design.SINGLE.value, Design.RATING.value]},
    "tell_ratio": {"design": [Design.SINGLE.value, Design.RATING.value]},
    "confidence_scale": {"design": [Design.SINGLE.value]},
    "rating_labels": {"design": [Design.RATING.value]},
    "rating_ask_class": {"design": [Design.RATING.value]},
    "practice_feedback": {"practice_trials": {"above": 0}},
    "practice_pass_mark": {"practice_trials": {"above": 0}},
    "exposure_ms": {"exposure_mode": [ExposureMode.FIXED.value, ExposureMode.STAIRCASE.value]},
    "exposure_levels_ms": {"exposure_mode": [ExposureMode.CONSTANT.value]},
}
APPLIES_CONTROLS = sorted({control for condition in APPLIES_WHEN.values() for control in condition})


def field_applies(name: str, values: dict) -> bool:
    """Whether design field `name` applies, given the values of the controlling fields (APPLIES_CONTROLS)."""
    for control, when in APPLIES_WHEN.get(name, {}).items():
        value = values.get(control)
        if isinstance(when, dict):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > when["above"]:
                return False
        elif value not in when:
            return False
    return True


class Study(models.Model):
    """A reader study. Every field below `pool` is design; design is frozen once an answer arrives."""

    DESIGN_FIELDS = [
        "pool", "design", "alternatives", "odd_class", "resolutions", "trials_per_resolution", "case_set",
        "synthetic_fraction", "tell_ratio", "allow_source_repeat", "order", "practice_trials",
        "practice_feedback", "practice_pass_mark", "repeat_trials", "catch_trials", "time_limit_ms", "min_view_ms",
        "confidence_scale", "ask_reason", "display_size", "upscale", "blank_ms", "rating_labels", "rating_ask_class",
        "exposure_mode", "exposure_ms", "exposure_levels_ms", "instructions", "consent", "show_score",
    ]

    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=StudyStatus.choices, default=StudyStatus.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    frozen_at = models.DateTimeField(null=True, blank=True, help_text="Set when the first answer arrives.")
    seed = models.BigIntegerField(default=new_seed, help_text="Study seed; each reader also stores their own.")

    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="studies")
    design = models.CharField(max_length=10, choices=Design.choices, default=Design.SINGLE)
    alternatives = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(2), MaxValueValidator(4)],
        help_text="Images per forced-choice trial (2 to 4).")
    odd_class = models.CharField(
        max_length=10, choices=ImageClass.choices, default=ImageClass.REAL,
        help_text="Forced choice: the class of the one odd image the reader must find.")
    resolutions = models.JSONField(default=default_resolutions)
    trials_per_resolution = models.PositiveIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(MAX_TRIALS_PER_RESOLUTION)])
    case_set = models.CharField(
        max_length=10, choices=CaseSet.choices, default=CaseSet.SHARED,
        help_text="Shared: the images are chosen once for the study, and each resolution's images rotate "
                  "across groups of readers, so no reader sees an image at two resolutions.")
    synthetic_fraction = models.FloatField(
        default=0.5, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of synthetic images in single-image and rating trials.")
    tell_ratio = models.BooleanField(default=False, help_text="Tell readers the real/synthetic ratio.")
    allow_source_repeat = models.BooleanField(
        default=False, help_text="Allow one source image to reach the same reader at two resolutions.")
    order = models.CharField(
        max_length=12, choices=[("interleaved", "Interleaved resolutions"), ("blocked", "Blocked by resolution")],
        default="interleaved")
    practice_trials = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(MAX_PRACTICE_TRIALS)])
    practice_feedback = models.BooleanField(default=True)
    practice_pass_mark = models.FloatField(
        default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Minimum practice accuracy per class before the main trials (0 = none).")
    repeat_trials = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(MAX_REPEAT_TRIALS)],
        help_text="Main trials shown twice, for consistency.")
    catch_trials = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(MAX_CATCH_TRIALS)],
        help_text="Attention checks with the pool's catch images (obviously synthetic).")
    time_limit_ms = models.PositiveIntegerField(null=True, blank=True)
    min_view_ms = models.PositiveIntegerField(default=0)
    confidence_scale = models.CharField(
        max_length=5, choices=[("off", "Off"), ("5", "1 to 5"), ("100", "0 to 100")], default="off")
    ask_reason = models.BooleanField(default=False)
    display_size = models.PositiveIntegerField(
        default=512, validators=[MinValueValidator(64), MaxValueValidator(2048)],
        help_text="On-screen size of every image in CSS pixels.")
    upscale = models.CharField(
        max_length=10, choices=[("pixelated", "Nearest neighbour"), ("smooth", "Smooth")], default="pixelated")
    blank_ms = models.PositiveIntegerField(default=250, help_text="Blank interval between trials.")
    rating_labels = models.JSONField(default=default_rating_labels, blank=True)
    rating_ask_class = models.BooleanField(
        default=False, help_text="Realism rating: ask 'real or synthetic?' after each rating.")
    exposure_mode = models.CharField(max_length=10, choices=ExposureMode.choices, default=ExposureMode.NONE)
    exposure_ms = models.PositiveIntegerField(default=500, help_text="Fixed exposure (and a staircase's start).")
    exposure_levels_ms = models.JSONField(
        "exposure levels (ms)", default=default_exposure_levels,
        help_text="Constant stimuli: the exposures in ms, each shown equally often per resolution and class "
                  "(2 to 8, e.g. 100, 200, 400, 800).")
    instructions = models.TextField(blank=True, help_text="Markdown.")
    consent = models.TextField(blank=True, help_text="Markdown; readers must accept it when present.")
    show_score = models.BooleanField(default=False, help_text="Show readers their score at the end.")

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.name

    def design_fields_that_apply(self) -> list[str]:
        """The design fields that mean something for this study's design and options (see APPLIES_WHEN)."""
        values = {control: getattr(self, control) for control in APPLIES_CONTROLS}
        return [name for name in self.DESIGN_FIELDS if field_applies(name, values)]

    @property
    def is_frozen(self) -> bool:
        return self.frozen_at is not None

    def clean(self) -> None:
        errors = {}
        if not isinstance(self.resolutions, list) or not self.resolutions or not all(
            isinstance(r, int) and not isinstance(r, bool) and r > 0 for r in self.resolutions
        ):
            errors["resolutions"] = "Give one or more resolutions in pixels, e.g. 32, 64, 128."
        elif len(set(self.resolutions)) != len(self.resolutions):
            errors["resolutions"] = "Give each resolution once."
        elif self.pool_id:
            missing = sorted(set(self.resolutions) - set(self.pool.resolutions()))
            if missing:
                errors["resolutions"] = f"The pool has no images at {', '.join(map(str, missing))} px."
        labels = self.rating_labels
        if not isinstance(labels, list) or not all(isinstance(x, str) and x.strip() for x in labels):
            errors["rating_labels"] = "Give the realism scale as a list of labels, lowest first."
        elif self.design == Design.RATING and not (4 <= len(labels) <= 5):
            errors["rating_labels"] = "A realism scale has 4 or 5 labels."
        if self.time_limit_ms is not None and self.time_limit_ms < 250:
            errors["time_limit_ms"] = "A time limit under 250 ms leaves no time to answer; leave it empty for none."
        elif self.time_limit_ms is not None and self.min_view_ms >= self.time_limit_ms:
            errors["min_view_ms"] = (f"The minimum viewing time ({self.min_view_ms} ms) must be shorter than the "
                                     f"time limit ({self.time_limit_ms} ms), or every trial times out.")
        timed = self.exposure_mode in (ExposureMode.FIXED, ExposureMode.STAIRCASE)
        if timed and not MIN_EXPOSURE_MS <= self.exposure_ms <= MAX_EXPOSURE_MS:
            errors["exposure_ms"] = (f"A timed exposure is {MIN_EXPOSURE_MS} ms (one frame at 60 Hz) to "
                                     f"{MAX_EXPOSURE_MS:,} ms.")
        levels_error = self._exposure_levels_error()
        if levels_error:
            errors["exposure_levels_ms"] = levels_error
        if self.exposure_mode == ExposureMode.STAIRCASE and self._stored_exposure_mode() != ExposureMode.STAIRCASE:
            errors["exposure_mode"] = (
                "The adaptive staircase sets each exposure from the last answer's correctness, so a reader can "
                "work out the answers from the exposures; it is kept only for studies that already use it. "
                "Choose several fixed exposures (method of constant stimuli) instead.")
        if self.blank_ms > MAX_BLANK_MS:
            errors["blank_ms"] = f"The blank interval is at most {MAX_BLANK_MS:,} ms."
        if self.design == Design.RATING and not self.rating_ask_class and self.practice_pass_mark > 0:
            errors["practice_pass_mark"] = ("A realism rating has no right answer, so practice cannot be passed or "
                                            "failed: set the pass mark to 0, or ask 'real or synthetic?' afterwards.")
        if errors:
            raise ValidationError(errors)

    def _exposure_levels_error(self) -> str | None:
        levels, (fewest, most) = self.exposure_levels_ms, EXPOSURE_LEVELS
        if not isinstance(levels, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in levels):
            return "Give the exposure levels as whole milliseconds, e.g. 100, 200, 400, 800."
        if not fewest <= len(levels) <= most:
            return f"Constant stimuli use {fewest} to {most} exposure levels."
        if len(set(levels)) != len(levels):
            return "Give each exposure level once."
        if not all(MIN_EXPOSURE_MS <= v <= MAX_EXPOSURE_MS for v in levels):
            return (f"Each exposure level is {MIN_EXPOSURE_MS} ms (one frame at 60 Hz) to "
                    f"{MAX_EXPOSURE_MS:,} ms.")
        return None

    def _stored_exposure_mode(self) -> str | None:
        """The exposure mode this study has in the database (None for a study not saved yet)."""
        if self.pk is None:
            return None
        return Study.objects.filter(pk=self.pk).values_list("exposure_mode", flat=True).first()

    def layout_warnings(self) -> list[str]:
        """Where the reading page cannot show the images at the configured size on a full-HD screen.

        An estimate: the page (static/mirage/reader.js, fitSize) measures its own room, with every control
        the study can show; here the images go side by side with 16 px gaps in the window less 48 px, above
        about 260 px of progress and buttons (more with confidence, a reason or "real or synthetic?"), in the
        1920 x 950 CSS px of a maximised browser on a 1920 x 1080 screen.
        """
        count = self.alternatives if self.design == Design.CHOICE else 1
        width = count * self.display_size + 16 * (count - 1) + 48
        controls = 260 + 90 * (self.confidence_scale != "off") + 110 * self.ask_reason + \
            60 * (self.design == Design.RATING and self.rating_ask_class)
        height = self.display_size + controls
        if width <= FULL_HD_WINDOW[0] and height <= FULL_HD_WINDOW[1]:
            return []
        fit = min((FULL_HD_WINDOW[0] - 48 - 16 * (count - 1)) // count, FULL_HD_WINDOW[1] - controls)
        what = f"{count} images of {self.display_size} px side by side need" if count > 1 else \
            f"An image of {self.display_size} px needs"
        return [f"{what} a window of {width} x {height} CSS px: on a full-HD screen they are shown at about "
                f"{fit} px. The page asks readers to enlarge the window or reset the zoom, and records the size "
                f"shown with each answer; a smaller display size keeps every reader at the same magnification."]

    def practice_warnings(self) -> list[str]:
        """Where a practice pass mark would rest on too few answers to judge a reader by.

        The pass mark counts only practice shown as planned and, with several exposures, only the trials at
        the longest one (services.practice_gate); practice goes through the levels from the longest down.
        """
        if not self.practice_trials or not self.practice_pass_mark:
            return []
        counted = self.practice_trials
        if self.exposure_mode == ExposureMode.CONSTANT and self.exposure_levels_ms:
            levels = len(self.exposure_levels_ms)
            counted = -(-self.practice_trials // levels)
            if counted < 4:
                return [f"The pass mark counts only the practice trials at the longest exposure: with "
                        f"{self.practice_trials} practice trials and {levels} exposures that is {counted}. "
                        f"{4 * levels} practice trials give it 4 answers to judge a reader by."]
        elif counted < 4:
            return [f"The pass mark judges each reader on {counted} practice answer{'s' if counted != 1 else ''}: "
                    "one unlucky answer decides. Give at least 4 practice trials."]
        return []

    def freeze(self) -> None:
        """Record that design can no longer change (idempotent, race-free)."""
        Study.objects.filter(pk=self.pk, frozen_at__isnull=True).update(frozen_at=timezone.now())


class Reader(models.Model):
    """One invited reader in one study: their invitation link, schedule seed and questionnaire."""

    study = models.ForeignKey(Study, related_name="readers", on_delete=models.CASCADE)
    name = models.CharField(max_length=200, help_text="Shown to coordinators only.")
    email = models.EmailField(blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    account_bound = models.BooleanField(
        default=False, help_text="Made for an account: the link never works without it, even once it is deleted.")
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    seed = models.BigIntegerField(default=new_seed)
    ordinal = models.PositiveIntegerField(
        default=0, help_text="Readers invited to the study before this one: the reader's group in a shared case set.")
    schedule_version = models.CharField(max_length=20, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    excluded = models.BooleanField(default=False)
    exclusion_reason = models.CharField(max_length=300, blank=True)
    questionnaire = models.JSONField(null=True, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.study})"

    @property
    def code(self) -> str:
        """The reader's code in exports and reports: R001, R002... by invitation order (names stay private)."""
        return f"R{self.ordinal + 1:03d}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.excluded
