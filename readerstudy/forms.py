"""Forms: the study design form, the reader questionnaire, and small coordinator actions."""
from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError

from .models import Pool, Study
from .models.study import (APPLIES_CONTROLS, APPLIES_WHEN, ExposureMode, default_exposure_levels,
                           default_rating_labels, default_resolutions, field_applies)
from .scheduling import ScheduleError, check_supply
from .services import pool_refs, schedule_spec

ROLE_CHOICES = [
    ("radiologist", "Radiologist"), ("resident", "Radiology resident"), ("radiographer", "Radiographer"),
    ("physician", "Other physician"), ("researcher", "Researcher"), ("other", "Other"),
]


class QuestionnaireForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)
    years_experience = forms.IntegerField(min_value=0, max_value=70, label="Years of experience in image reading")
    subspecialty = forms.CharField(max_length=100, required=False, label="Subspecialty (optional)")
    consent = forms.BooleanField(required=False)

    def __init__(self, *args, consent_required: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.consent_required = consent_required
        if consent_required:
            self.fields["consent"].required = True
            self.fields["consent"].label = "I have read and accept the consent text above"
        else:
            del self.fields["consent"]


class ResolutionsField(forms.CharField):
    what = "resolutions"
    example = "32,64,128"

    def to_python(self, value):
        value = super().to_python(value)
        try:
            values = sorted({int(v) for v in value.replace(" ", "").split(",") if v})
        except ValueError:
            raise forms.ValidationError(
                f"Give {self.what} as whole numbers separated by commas, e.g. {self.example}.")
        if not values or any(v <= 0 for v in values):
            raise forms.ValidationError(f"Give at least one positive {self.what[:-1]}.")
        return values

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return ",".join(str(v) for v in value)
        return value


class ExposureLevelsField(ResolutionsField):
    what = "exposure levels"
    example = "100,200,400,800"

    def to_python(self, value):
        if not (value or "").strip():
            return default_exposure_levels()  # only constant stimuli use them: none given, the usual four
        return super().to_python(value)


class LabelsField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 5})

    def to_python(self, value):
        value = super().to_python(value)
        return [line.strip() for line in value.splitlines() if line.strip()]

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return "\n".join(value)
        return value


class StudyForm(forms.ModelForm):
    """The study design, with help for each field; only the fields that apply to the design are read.

    Which fields apply is one rule (readerstudy.models.study.APPLIES_WHEN): each field's wrapper carries
    its condition (`applies_when`), the form's script hides the fields that do not apply, and when the
    form is saved such a field is stored at its default, where it has no effect.
    """

    resolutions = ResolutionsField(
        initial=default_resolutions,
        help_text="The image sizes to compare, in pixels, comma separated, e.g. 32,64,128,256. The pool must have "
                  "images at each. Each resolution adds its own trials for every reader.")
    rating_labels = LabelsField(
        label="Rating scale", required=False, initial=default_rating_labels,
        help_text="The rating buttons, least realistic first, one per line: 4 or 5 labels. The keys 1 to 5 "
                  "press them.")
    exposure_levels_ms = ExposureLevelsField(
        label="Exposure levels (ms)", initial=default_exposure_levels, required=False,
        help_text="The durations, in ms, comma separated: 2 to 8 of them, e.g. 100,200,400,800. Each is used "
                  "equally often at every resolution for both kinds of image.")

    class Meta:
        model = Study
        fields = ["name"] + [f for f in Study.DESIGN_FIELDS]
        labels = {
            "name": "Study name",
            "odd_class": "Odd image",
            "trials_per_resolution": "Trials per resolution",
            "tell_ratio": "Tell readers the share of synthetic images",
            "allow_source_repeat": "Show each source image at every resolution",
            "practice_pass_mark": "Practice pass mark",
            "repeat_trials": "Repeated trials",
            "catch_trials": "Catch trials",
            "confidence_scale": "Confidence",
            "ask_reason": "Ask for a reason",
            "rating_ask_class": "Also ask “real or synthetic?”",
            "show_score": "Show readers their score",
            "display_size": "Display size (CSS px)",
            "upscale": "Enlarging",
            "blank_ms": "Blank between trials (ms)",
            "time_limit_ms": "Time limit (ms)",
            "min_view_ms": "Minimum viewing time (ms)",
            "exposure_mode": "Exposure",
            "exposure_ms": "Exposure (ms)",
            "instructions": "Instructions",
        }
        help_texts = {
            "name": "Readers see it at the top of their invitation page, e.g. “Chest X-rays: real or synthetic?”.",
            "pool": "The images the study draws on. When you save, Mirage checks that this pool has enough "
                    "images for the design, and says how many more it needs if not.",
            "design": "Single image: one image, the reader answers Real or Synthetic. Forced choice: a few images "
                      "side by side, the reader picks the one odd image. Realism rating: one image, the reader "
                      "rates how realistic it looks. The preview shows the screen each gives.",
            "trials_per_resolution": "Main trials each reader reads at each resolution. 20 to 50 is usual; more "
                                     "trials give firmer answers but need a larger pool.",
            "case_set": "Shared (recommended): the images are chosen once for the study, readers in a group read "
                        "the same ones, and nobody sees a source image at two resolutions. Random: each reader "
                        "gets their own images.",
            "synthetic_fraction": "Share of the main trials that show a synthetic image: 0.5 is half. Keep 0.5 "
                                  "unless you have a reason.",
            "tell_ratio": "The invitation page says about how many of the images are synthetic, so readers do not "
                          "guess at it.",
            "alternatives": "Images side by side in each trial, 2 to 4. More images make a trial harder, and need "
                            "more room on screen (see the preview).",
            "odd_class": "Each trial has exactly one image of this kind among the others, and the reader is asked "
                         "to find it: “Real” asks “Which image is real?”.",
            "allow_source_repeat": "Off (recommended): a reader never sees one source image twice, not even at "
                                   "another resolution. On: every reader reads the same images at every "
                                   "resolution, which needs a smaller pool, but a sharp view can give away a "
                                   "blurred one.",
            "order": "Interleaved: the resolutions are mixed, a few trials of each per round. Blocked: all the "
                     "trials of one resolution, then the next, in a random order of resolutions per reader.",
            "practice_trials": "Trials at the start that do not count, to learn the screen: timed like the main "
                               "trials, but with no time limit and no confidence question. 0 for none; 4 to 10 "
                               "is usual.",
            "practice_feedback": "After each practice answer the reader is told whether it was right.",
            "practice_pass_mark": "Share of the practice a reader must get right (single image: of the real and of "
                                  "the synthetic images each) to go on to the main trials, e.g. 0.6. 0 lets "
                                  "everyone go on. Only practice trials shown for their full exposure count, and "
                                  "with several exposures only those at the longest; a reader with none that "
                                  "counts goes on. A realism rating has no right answer: keep 0 unless you also "
                                  "ask “real or synthetic?”.",
            "repeat_trials": "Main trials shown a second time later on, never straight after, to see how "
                             "consistent each reader is. 0 for none; 5 to 10 is usual.",
            "catch_trials": "Attention checks among the main trials, with the pool's catch images (obviously "
                            "synthetic): a reader who misses them may not be paying attention. The pool needs "
                            "catch images; 2 to 5 is usual.",
            "confidence_scale": "After each answer the reader also says how sure they are: buttons 1 to 5, or a "
                                "0 to 100 slider. It gives an ROC curve and adds a second or two per trial.",
            "ask_reason": "A box under the answers asks “Why?” (optional for the reader). Slows reading; useful in "
                          "a pilot.",
            "rating_ask_class": "After each rating the reader also answers Real or Synthetic, so accuracy can be "
                                "measured as well.",
            "show_score": "At the end, each reader sees the share of their answers that were right.",
            "display_size": "How large every image is on the reader's screen, whatever its resolution: small "
                            "images are enlarged to it. 512 suits most screens; 3 or 4 images side by side need "
                            "less, e.g. 400.",
            "upscale": "How small images are enlarged. Nearest neighbour (recommended) shows the pixels as sharp "
                       "squares and adds nothing; smooth blurs them.",
            "blank_ms": "An empty screen between trials, in ms: 250 to 500 keeps one image from running into the "
                        "next. At most 10,000.",
            "time_limit_ms": "How long a reader has to answer each main trial, in ms, e.g. 5000 for 5 seconds; "
                             "empty for no limit. A trial not answered in time counts as wrong. At least 250.",
            "min_view_ms": "The answer buttons wake up only after the image has been on screen this long, in ms, "
                           "e.g. 1000, so nobody clicks through. 0 for at once; shorter than any time limit.",
            "exposure_mode": "Untimed: the image stays until the reader answers. Fixed exposure: after a 3-2-1 "
                             "countdown the image is shown for a set time and then covered by a noise pattern. "
                             "Several fixed exposures: the same, with a few durations in random order, to find "
                             "how long readers need. Practice is timed the same way.",
            "exposure_ms": "How long each image is shown, in ms: 17 (one frame on a 60 Hz screen) to 60,000, e.g. "
                           "500. For an adaptive staircase, its first exposure.",
            "instructions": "What readers read on their invitation page before they start, in Markdown (**bold**, "
                            "lists): what the images are and what to look for.",
            "consent": "A text readers must accept (Markdown) before they read; leave it empty for none.",
        }

    FIELDSETS = [
        ("Study", ["name", "pool", "design", "resolutions", "trials_per_resolution", "case_set"]),
        ("Images per trial", ["synthetic_fraction", "tell_ratio", "alternatives", "odd_class", "allow_source_repeat"]),
        ("Order", ["order"]),
        ("Practice and checks", ["practice_trials", "practice_feedback", "practice_pass_mark", "catch_trials",
                                 "repeat_trials"]),
        ("Answers", ["confidence_scale", "ask_reason", "rating_labels", "rating_ask_class", "show_score"]),
        ("Display", ["display_size", "upscale", "blank_ms"]),
        ("Timing", ["time_limit_ms", "min_view_ms", "exposure_mode", "exposure_ms", "exposure_levels_ms"]),
        ("Texts for readers (Markdown)", ["instructions", "consent"]),
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pool"].queryset = Pool.objects.order_by("name")
        if self.instance.pk is None or self.instance.exposure_mode != ExposureMode.STAIRCASE:
            # The staircase stays only for studies that already use it (see Study.clean).
            self.fields["exposure_mode"].choices = [
                choice for choice in self.fields["exposure_mode"].choices if choice[0] != ExposureMode.STAIRCASE]
        for name, condition in APPLIES_WHEN.items():
            if name in self.fields:  # read by the template, as the field's data-applies-when
                self.fields[name].applies_when = json.dumps(condition)

    def clean(self):
        """Leave aside what does not apply; refuse a design the chosen pool cannot supply to every reader group."""
        cleaned = super().clean()
        self._set_aside_fields_that_do_not_apply(cleaned)
        if self.errors:
            return cleaned
        candidate = Study(pk=self.instance.pk, seed=self.instance.seed,
                          **{name: cleaned[name] for name in Study.DESIGN_FIELDS if name in cleaned})
        try:
            candidate.clean()
        except ValidationError:
            return cleaned  # the model's own checks explain what is wrong with the design itself
        try:
            check_supply(pool_refs(candidate), schedule_spec(candidate), study_seed=candidate.seed)
        except ScheduleError as exc:
            raise forms.ValidationError(f"The pool cannot supply this design. {exc}") from None
        return cleaned

    def _set_aside_fields_that_do_not_apply(self, cleaned: dict) -> None:
        """Store a field that does not apply to the chosen design at its default, where it has no effect.

        The page hides such a field and does not send it (its inputs are disabled), so it never blocks
        saving. Without the page's script every field is shown and sent: a value that does not apply is
        then not stored either, but one its field itself refuses (7 images per forced choice) is still
        said, next to the field the coordinator sees. While a controlling field (the design, the
        exposure, the practice trials) is itself wrong, nothing is set aside.
        """
        if any(control in self.errors for control in APPLIES_CONTROLS if control in self.fields):
            return
        values = {control: cleaned.get(control, getattr(self.instance, control)) for control in APPLIES_CONTROLS}
        for name in APPLIES_WHEN:
            if name not in self.fields or field_applies(name, values):
                continue
            sent = self[name].html_name in self.data
            if sent and name not in self.errors:
                try:  # the field's own bounds, which the model checks (alternatives 2 to 4)
                    Study._meta.get_field(name).clean(cleaned[name], self.instance)
                except ValidationError as exc:
                    self.add_error(name, exc)
            if sent and name in self.errors:
                continue
            self.errors.pop(name, None)
            cleaned[name] = default = Study._meta.get_field(name).get_default()
            if not sent:  # shown again at its default, should the form come back and the design change
                self.data = self.data.copy()
                if default is not False:
                    self.data[self[name].html_name] = "on" if default is True else \
                        str(self.fields[name].prepare_value(default))

    def fieldsets(self):
        for legend, names in self.FIELDSETS:
            yield legend, [self[name] for name in names]


class DesignCheckForm(StudyForm):
    """The design form's values as its live preview and power panel read them: no name or texts needed."""

    class Meta(StudyForm.Meta):
        fields = [f for f in Study.DESIGN_FIELDS if f not in ("instructions", "consent")]


class InviteForm(forms.Form):
    name = forms.CharField(max_length=200, label="Reader name or code")
    email = forms.EmailField(required=False)
    username = forms.CharField(max_length=150, required=False, label="Account (optional)",
                               help_text="Invite an existing Mirage account: the link then works only after login.")

    def clean_username(self):
        from django.contrib.auth import get_user_model

        username = self.cleaned_data["username"].strip()
        if not username:
            return None
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"No active account is called {username!r}.")
        return user


class PowerForm(forms.Form):
    accuracy = forms.FloatField(min_value=0.01, max_value=0.99, initial=0.6,
                                label="Expected reader accuracy at a resolution")
    readers = forms.IntegerField(min_value=1, max_value=10000, label="Readers")
