"""The reader's JSON API. The reading screen uses exactly these endpoints, so a script can read too.

Authentication is the invitation token in the URL (no account needed); nothing here reveals an image's
class or source, and images are streamed only to the reader who owns the trial.
"""
from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from ..models import TrialKind
from ..pools import canonical_bytes
from ..readerstate import practice_feedback, reader_state
from ..converters import TokenConverter
from ..forms import ROLE_CHOICES
from ..services import (ReadingError, Submission, reader_for_token, start_reading, submit_response,
                        trial_image_path)
from .schema import MirageSchema


class SubmissionSerializer(serializers.Serializer):
    trial = serializers.CharField(max_length=64)
    answer = serializers.ChoiceField(choices=["real", "synthetic", ""], required=False, default="")
    chosen_position = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=9)
    rating = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100)
    confidence = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    timed_out = serializers.BooleanField(required=False, default=False)
    client_key = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    client_response_ms = serializers.FloatField(required=False, allow_null=True, min_value=0)
    client_exposure_ms = serializers.FloatField(required=False, allow_null=True, min_value=0)
    requested_exposure_ms = serializers.FloatField(required=False, allow_null=True, min_value=0)
    displayed_width = serializers.FloatField(required=False, allow_null=True, min_value=0)
    displayed_height = serializers.FloatField(required=False, allow_null=True, min_value=0)
    device_pixel_ratio = serializers.FloatField(required=False, allow_null=True, min_value=0)


class ReaderAPIView(APIView):
    # The token in the URL is the credential. A login is read only for invitations made to an account:
    # the browser's session (then DRF checks the CSRF token, which the reading page sends) or, for a
    # script reading on that account's behalf, its API token.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [AllowAny]
    schema = MirageSchema()
    # ReadingError's statuses: 401 an account invitation without its login, 403 the wrong account or an
    # ended participation, 404 an unknown link, 410 a withdrawn one (409, below: not open, not started).
    errors = {method: (401, 403, 404, 410) for method in ("get", "post")}

    def handle_exception(self, exc):
        if isinstance(exc, ReadingError):
            return ApiResponse({"detail": exc.message}, status=exc.status)
        return super().handle_exception(exc)


class StartSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=[c for c, _ in ROLE_CHOICES])
    years_experience = serializers.IntegerField(min_value=0, max_value=70)
    subspecialty = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    consent = serializers.BooleanField(required=False, default=False)


def _first_error(serializer) -> ApiResponse:
    field, errors = next(iter(serializer.errors.items()))
    return ApiResponse({"detail": f"{field}: {errors[0]}", "errors": serializer.errors},
                       status=status.HTTP_400_BAD_REQUEST)


def token_parameters(*names: str) -> list[OpenApiParameter]:
    """Invitation and image tokens in the path: anything else matches no route (Django's 404 page)."""
    return [OpenApiParameter(name, str, OpenApiParameter.PATH, pattern=f"^{TokenConverter.regex}$")
            for name in names]


class ReaderStartView(ReaderAPIView):
    @extend_schema(request=StartSerializer, responses={200: OpenApiTypes.OBJECT}, parameters=token_parameters("token"),
                   summary="Answer the reader questionnaire (and consent) before the first trial")
    def post(self, request, token: str):
        reader = reader_for_token(token, request.user)
        serializer = StartSerializer(data=request.data)
        if not serializer.is_valid():
            return _first_error(serializer)
        data = dict(serializer.validated_data)
        consent = data.pop("consent")
        start_reading(reader, data, consented=consent)
        return ApiResponse(reader_state(reader))


class ReaderStateView(ReaderAPIView):
    @extend_schema(responses={200: inline_serializer("ReaderState", {"progress": serializers.DictField(),
                                                                       "trials": serializers.ListField()})},
                   parameters=token_parameters("token"),
                   summary="Progress and the reader's current and next trial")
    def get(self, request, token: str):
        reader = reader_for_token(token, request.user)
        return ApiResponse(reader_state(reader))


class ReaderResponsesView(ReaderAPIView):
    errors = {"post": (401, 403, 404, 409, 410)}

    @extend_schema(request=SubmissionSerializer, summary="Answer the current trial (idempotent per trial)",
                   parameters=token_parameters("token"),
                   responses={201: inline_serializer("Ack", {"stored": serializers.BooleanField()}),
                              200: inline_serializer("AckRepeat", {"stored": serializers.BooleanField()})})
    def post(self, request, token: str):
        reader = reader_for_token(token, request.user)
        serializer = SubmissionSerializer(data=request.data)
        if not serializer.is_valid():
            return _first_error(serializer)
        data = dict(serializer.validated_data)
        data["trial_token"] = data.pop("trial")
        submission = Submission(**data)
        response, created = submit_response(reader, submission)
        if response.trial.kind == TrialKind.PRACTICE:
            reader.refresh_from_db(fields=["excluded"])  # a failed practice gate ends participation
        body = {"stored": True, "created": created, "trial": response.trial.token}
        if not created:
            # This page's own earlier try (a retry after a lost acknowledgement), or another tab's answer?
            body["same_client"] = bool(submission.client_key) and response.client_key == submission.client_key
        feedback = practice_feedback(response, reader.study)
        if feedback is not None:
            body["feedback"] = feedback
        if reader.excluded:
            body["state"] = {"finished": True, "excluded": True, "message": (
                "You did not reach the practice pass mark, so the main trials will not start. "
                "Thank you for your time; the study coordinator has been informed.")}
        else:
            body["state"] = reader_state(reader)
        return ApiResponse(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ReaderImageView(ReaderAPIView):
    errors = {"get": (401, 403, 404, 409, 410)}

    @extend_schema(responses={(200, "image/png"): bytes}, summary="An image of one of the reader's trials",
                   parameters=token_parameters("token", "image_token"))
    def get(self, request, token: str, image_token: str):
        # The canonical re-encoding, never the pool's file: its size is the same for every image of a
        # resolution. Fixed headers for every image: nothing that differs by class, source or file.
        # Streamed from here whether the copy is on this host or on the S3 bucket (readerstudy/storage.py):
        # never a redirect to the storage, so what the browser receives is the same with either.
        data = canonical_bytes(trial_image_path(token, image_token, request.user))
        response = HttpResponse(data, content_type="image/png")
        response["Cache-Control"] = "private, max-age=86400, immutable"
        response["Content-Disposition"] = "inline"
        return response
