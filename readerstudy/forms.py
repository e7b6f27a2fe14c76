"""Forms: the study design form, the reader questionnaire, and small coordinator actions."""
from __future__ import annotations

from django import forms

from django.core.exceptions import ValidationError

from .models import Pool, Study
from .models.study import ExposureMode, default_exposure_levels, default_rating_labels, default_resolutions
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
    resolutions = ResolutionsField(initial=default_resolutions, help_text="Pixels, comma separated, e.g. 32,64,128,256.")
    rating_labels = LabelsField(required=False, initial=default_rating_labels,
                                help_text="Realism scale labels, one per line, lowest first (4 or 5).")
    exposure_levels_ms = ExposureLevelsField(
        label="Exposure levels (ms)", initial=default_exposure_levels, required=False,
        help_text=Study._meta.get_field("exposure_levels_ms").help_text + " Comma separated.")

    class Meta:
        model = Study
        fields = ["name"] + [f for f in Study.DESIGN_FIELDS]

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

    def clean(self):
        """Refuse, when it is saved, a design the chosen pool cannot supply to every reader group."""
        cleaned = super().clean()
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
            raise forms.ValidationError(str(exc)) from None
        return cleaned

    def fieldsets(self):
        for legend, names in self.FIELDSETS:
            yield legend, [self[name] for name in names]


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
