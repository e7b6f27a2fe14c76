"""The study design form's live panels (htmx fragments): what a reader will see, and the planned power.

Both read the form's current, unsaved values through the design form itself (DesignCheckForm), so they
show what saving would give: a value the form refuses comes back as the form's own error, in the
fragment, and nothing else. A design the pool cannot supply is still previewed, with the reason.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_safe

from ..forms import DesignCheckForm, PowerForm
from ..models import Design, PoolImage, Study
from ..models.study import ExposureMode
from ..readerstate import COUNTDOWN_FROM, COUNTDOWN_STEP_MS, MASK_MS
from ..roles import coordinator_required

# What a reader takes, roughly, for the preview's estimate of a session's length (seconds). Guesses from
# typical reader studies, not measurements: the estimate says so.
JUDGE_S = 3.0  # to look at an untimed image and answer
EXTRA_IMAGE_S = 1.5  # for each further image of a forced choice
AFTER_MASK_S = 1.5  # to answer once a timed image has gone
FOLLOW_UP_S = 1.5  # a confidence, or "real or synthetic?" after a rating
REASON_S = 4.0  # an optional reason, where one is asked for
FEEDBACK_S = 1.0  # to read a practice verdict


def _study_being_edited(request) -> Study | None:
    """The saved study the form edits (?study=pk), or None for a new one."""
    pk = request.GET.get("study", "")
    if not pk:
        return None
    if not (pk.isascii() and pk.isdigit()) or len(pk) > 18:
        raise Http404("No such study.")
    return get_object_or_404(Study, pk=int(pk))


def _design_form(request) -> DesignCheckForm:
    form = DesignCheckForm(request.GET, instance=_study_being_edited(request))
    form.is_valid()
    return form


def _errors(form) -> list[tuple[str | None, str]]:
    """The form's errors, each with the label of its field (None: the design as a whole)."""
    return [(form[name].label if name in form.fields else None, message)
            for name, messages in form.errors.items() for message in messages]


def _field_errors(form) -> bool:
    return any(name in form.fields for name in form.errors)


@dataclass(frozen=True)
class Trials:
    """How many trials of each kind one reader gets."""

    practice: int
    per_resolution: int
    resolutions: tuple[int, ...]
    catch: int
    repeat: int

    @property
    def main(self) -> int:
        return self.per_resolution * len(self.resolutions)

    @property
    def counted(self) -> int:
        """The trials the reading screen's progress counts: all but practice."""
        return self.main + self.catch + self.repeat

    @property
    def total(self) -> int:
        return self.practice + self.counted


def trials_per_reader(study: Study) -> Trials:
    return Trials(study.practice_trials, study.trials_per_resolution, tuple(sorted(study.resolutions)),
                  study.catch_trials, study.repeat_trials)


def reading_minutes(study: Study) -> float:
    """About how long one reader's session takes, in minutes, from the design and the times above.

    A trial is the blank before it, then the image: untimed, looked at until answered (at least the
    minimum viewing time); timed, the countdown, the exposure and the mask, then the answer. A time limit
    caps the answering. Practice is timed like the main trials (a staircase's is untimed), has no time
    limit and asks no confidence, with a verdict to read if given.
    """
    images = study.alternatives if study.design == Design.CHOICE else 1
    blank = study.blank_ms / 1000
    judge = max(JUDGE_S + EXTRA_IMAGE_S * (images - 1), study.min_view_ms / 1000)
    answer = judge
    shown = 0.0
    if study.exposure_mode != ExposureMode.NONE:
        levels = study.exposure_levels_ms if study.exposure_mode == ExposureMode.CONSTANT else [study.exposure_ms]
        shown = (COUNTDOWN_FROM * COUNTDOWN_STEP_MS + sum(levels) / len(levels) + MASK_MS) / 1000
        answer = AFTER_MASK_S
    if study.exposure_mode in (ExposureMode.NONE, ExposureMode.STAIRCASE):
        practice = blank + judge + FEEDBACK_S * study.practice_feedback
    else:
        practice = blank + shown + AFTER_MASK_S + FEEDBACK_S * study.practice_feedback
    answer += (FOLLOW_UP_S * (study.confidence_scale != "off")
               + FOLLOW_UP_S * (study.design == Design.RATING and study.rating_ask_class)
               + REASON_S * study.ask_reason)
    if study.time_limit_ms:
        answer = min(answer, study.time_limit_ms / 1000)
    trials = trials_per_reader(study)
    seconds = trials.practice * practice + trials.counted * (blank + shown + answer)
    return seconds / 60


def _sample_images(study: Study, resolution: int) -> list[dict]:
    """Real images of the pool at `resolution` for one trial of the design: one, or the odd one and its foils.

    A forced choice's foils share the odd image's label where the pool has labels, as in the study.
    """
    images = PoolImage.objects.filter(pool_id=study.pool_id, resolution=resolution, role="main").order_by("uid")
    if study.design != Design.CHOICE:
        chosen = [image for image in [images.first()] if image is not None]
    else:
        other = "synthetic" if study.odd_class == "real" else "real"
        odd = images.filter(image_class=study.odd_class).first()
        foils = images.filter(image_class=other)
        if odd is not None and odd.label and foils.filter(label=odd.label).exists():
            foils = foils.filter(label=odd.label)
        chosen = ([odd] if odd is not None else []) + list(foils[:study.alternatives - 1])
    return [{"url": reverse("pool-image", args=[study.pool_id, image.uid]), "image_class": image.image_class,
             "odd": study.design == Design.CHOICE and image.image_class == study.odd_class} for image in chosen]


def reading_screen(study: Study, wanted_resolution: str | None) -> dict:
    """What the preview fragment shows of a valid design: one trial at one resolution, and the session."""
    resolutions = sorted(study.resolutions)
    resolution = next((r for r in resolutions if str(r) == wanted_resolution), resolutions[0])
    trials = trials_per_reader(study)
    return {
        "study": study, "resolution": resolution, "resolutions": resolutions,
        "images": _sample_images(study, resolution), "trials": trials,
        "minutes": max(1, math.ceil(reading_minutes(study))),
        "countdown": ", ".join(str(n) for n in range(COUNTDOWN_FROM, 0, -1)),
        "countdown_s": f"{COUNTDOWN_FROM * COUNTDOWN_STEP_MS / 1000:g}", "mask_s": f"{MASK_MS / 1000:g}",
        "exposure_levels": sorted(study.exposure_levels_ms), "judge_s": f"{JUDGE_S:g}",
    }


@coordinator_required
@require_safe
def design_preview(request):
    """The reading screen for the form's current values, with the trials per reader and the reading time."""
    form = _design_form(request)
    context = {"form": form, "errors": _errors(form)}
    if not _field_errors(form):  # a design the pool cannot supply is still shown, under its reason
        context.update(reading_screen(form.instance, request.GET.get("preview_resolution")))
    return render(request, "coordinator/_design_preview.html", context)


@coordinator_required
@require_safe
def design_power(request):
    """The planned power of the form's current values, as the study page plans it (results.study_power).

    Asked without an accuracy, it gives the panel itself: the planner's inputs, and the answer below them,
    which then follows every change of the form or of the inputs.
    """
    from ..results import power_panel

    study = _study_being_edited(request)
    if "accuracy" not in request.GET:
        readers = study.readers.count() if study is not None else 0
        return render(request, "coordinator/_design_power_panel.html", {
            "power_form": PowerForm(initial={"readers": max(readers, 8)}), "study": study})
    form = _design_form(request)
    power_form = PowerForm(request.GET)
    context = {"errors": _errors(form) if _field_errors(form) else [], "power_form": power_form}
    if context["errors"] or not power_form.is_valid():
        return render(request, "coordinator/_design_power.html", context)
    context.update(power_panel(form.instance, accuracy=power_form.cleaned_data["accuracy"],
                               readers=power_form.cleaned_data["readers"]))
    return render(request, "coordinator/_design_power.html", context)
