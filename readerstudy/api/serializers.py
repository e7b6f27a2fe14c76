"""Serializers for coordinators, analysts and scripts. Readers never reach these."""
from __future__ import annotations

from django.db import models
from django.urls import reverse
from rest_framework import serializers

from ..models import Pool, Reader, Response, Study, Trial
from ..models.study import APPLIES_CONTROLS, APPLIES_WHEN, field_applies
from ..roles import is_coordinator
from .parsers import MAX_DEPTH, body_problem


class JSONField(serializers.JSONField):
    """A JSON field that refuses, as the API's JSON parser does, nesting past MAX_DEPTH and NUL characters.

    Needed for form and multipart bodies, where the field's value arrives as JSON text and is parsed here.
    """

    def to_internal_value(self, data):
        try:
            value = super().to_internal_value(data)
        except RecursionError:
            raise serializers.ValidationError(f"JSON may be nested at most {MAX_DEPTH} levels deep.") from None
        problem = body_problem(value, self.field_name)
        if problem:
            raise serializers.ValidationError(problem)
        return value


class ModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping, models.JSONField: JSONField}


class PoolSerializer(ModelSerializer):
    counts = serializers.SerializerMethodField()

    class Meta:
        model = Pool
        fields = ["id", "name", "code_version", "settings", "created_at", "counts"]

    def get_counts(self, pool: Pool) -> list[dict]:
        from django.db.models import Count

        return list(pool.images.values("resolution", "image_class").annotate(n=Count("id"))
                    .order_by("resolution", "image_class"))


class StudySerializer(ModelSerializer):
    class Meta:
        model = Study
        fields = ["id", "name", "status", "created_at", "frozen_at", "seed"] + Study.DESIGN_FIELDS
        read_only_fields = ["status", "created_at", "frozen_at", "seed"]

    def validate(self, attrs):
        if self.instance is not None and self.instance.is_frozen:
            changed = [k for k in attrs if k in Study.DESIGN_FIELDS and getattr(self.instance, k) != attrs[k]]
            if changed:
                raise serializers.ValidationError(
                    f"The design is frozen since the first answer ({', '.join(changed)}); copy the study instead.")
        frozen = self.instance is not None and self.instance.is_frozen
        candidate = Study(pk=self.instance.pk if self.instance else None,
                          **{**({f: getattr(self.instance, f) for f in Study.DESIGN_FIELDS} if self.instance else {}),
                             **attrs})
        # As on the design page, and before the design is checked: a field that does not apply to the design
        # is stored at its default, where it has no effect (a forced choice never asks the confidence a
        # single-image design would), and so never refuses a design.
        values = {control: getattr(candidate, control) for control in APPLIES_CONTROLS}
        for name in APPLIES_WHEN:
            if not frozen and not field_applies(name, values):
                attrs[name] = Study._meta.get_field(name).get_default()
                setattr(candidate, name, attrs[name])
        from django.core.exceptions import ValidationError

        try:
            candidate.clean()
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs


class ReaderSerializer(ModelSerializer):
    """A reader as coordinators see them. Analysts see the reader's code (R001...) in place of the name,
    and neither e-mail nor account: who read is for coordinators only, as in the exports and reports."""

    code = serializers.CharField(read_only=True)
    invitation_url = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Reader
        fields = ["id", "study", "code", "name", "email", "user", "seed", "schedule_version", "revoked_at",
                  "excluded", "exclusion_reason", "questionnaire", "started_at", "finished_at", "invitation_url",
                  "progress"]
        read_only_fields = ["seed", "schedule_version", "revoked_at", "excluded", "exclusion_reason",
                            "questionnaire", "started_at", "finished_at"]

    def to_representation(self, reader: Reader) -> dict:
        data = super().to_representation(reader)
        request = self.context.get("request")
        if request is None or not is_coordinator(request.user):
            data.update(name=reader.code, email="", user=None)
        return data

    def get_invitation_url(self, reader: Reader) -> str | None:
        request = self.context.get("request")
        if request is None or not is_coordinator(request.user):
            return None
        return request.build_absolute_uri(reverse("reader-start", args=[reader.token]))

    def get_progress(self, reader: Reader) -> dict:
        if hasattr(reader, "trials_total"):  # annotated by the list query: no query per reader
            return {"total": reader.trials_total, "done": reader.trials_done}
        from ..services import progress

        return progress(reader)


class TrialSerializer(ModelSerializer):
    images = serializers.SerializerMethodField()

    class Meta:
        model = Trial
        fields = ["id", "reader", "index", "kind", "block", "resolution", "odd_position", "repeat_of",
                  "exposure_ms", "first_served_at", "images"]

    def get_images(self, trial: Trial) -> list[dict]:
        return [{"position": ti.position, "image": ti.image.uid, "class": ti.image.image_class}
                for ti in trial.images.all()]


class ResponseSerializer(ModelSerializer):
    reader = serializers.IntegerField(source="trial.reader_id", read_only=True)
    index = serializers.IntegerField(source="trial.index", read_only=True)

    class Meta:
        model = Response
        exclude = ["client_key"]
