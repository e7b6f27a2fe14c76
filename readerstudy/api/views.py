"""API for coordinators (everything), analysts (read and export) and scripts (token authentication)."""
from __future__ import annotations

from axes.helpers import get_lockout_message
from django.conf import settings
from django.db.models import Count, ProtectedError, Q
from django.http import Http404, StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response as ApiResponse
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from ..export import csv_lines
from ..invitations import ReaderListError, invite_readers, parse_reader_list
from ..models import Pool, QualityRun, QualityStatus, Reader, Response, Study, Trial, TrialKind
from ..quality import REPORT_FILES, QualityReportError, current_run, start_quality_report
from ..results import EXCLUSION_CHOICES, study_report
from ..roles import CoordinatorOrReadOnlyAnalyst, IsAnalyst
from ..scheduling import ScheduleError
from ..views.pools import quality_file_response
from ..services import (ActionRefused, DesignFrozen, change_status, copy_study, exclude_reader, invite_reader,
                        revoke_reader, save_design)
from .pagination import MAX_INTEGER
from .schema import MirageSchema
from .serializers import PoolSerializer, ReaderSerializer, ResponseSerializer, StudySerializer, TrialSerializer


def filter_by_id(queryset, request, param: str, lookup: str):
    """Filter on ?param=<id>; anything but a plain decimal id in the database's range is a 400, never a
    silent 'all rows' (nor an integer the database cannot take)."""
    value = request.query_params.get(param)
    if value is None:
        return queryset
    if not (value.isascii() and value.isdecimal()) or len(value) > 19 or int(value) > MAX_INTEGER:
        raise ValidationError({param: f"{param} must be a numeric id from 0 to {MAX_INTEGER}, got {value!r}."})
    return queryset.filter(**{lookup: int(value)})


class TokenView(ObtainAuthToken):
    """POST a username and password for the account's API token. After repeated failed logins the account
    is locked out from that address for a while, and the answer is 429."""

    # DRF's view lists the stock parsers; the API's own bound JSON depth and refuse NUL. django-axes counts
    # the failures Django's authenticate(request=...) reports (DRF's serializer calls it) and marks this DRF
    # request rather than Django's, so the 429 is answered here, not by its middleware.
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES
    schema = MirageSchema()
    errors = {"post": (401, 429)}  # 401: an Authorization header with a token that is not valid

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            if getattr(request, "axes_locked_out", False):  # set by django-axes on this (DRF) request
                return ApiResponse({"detail": str(get_lockout_message())}, status=settings.AXES_HTTP_RESPONSE_CODE,
                                   headers={"Retry-After": str(int(settings.AXES_COOLOFF_TIME.total_seconds()))})
            raise


def id_filter(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(name, int, description=f"Only those of this {what} (its numeric id).")


class QualityRunSerializer(serializers.ModelSerializer):
    """A pool's quality report run: its state while queued or running, its figures once done."""

    files = serializers.SerializerMethodField()

    class Meta:
        model = QualityRun
        fields = ["id", "pool", "status", "stage", "fraction", "created_at", "started_at", "finished_at", "error",
                  "summary", "files"]
        read_only_fields = fields

    def get_files(self, run) -> dict[str, str]:
        request = self.context.get("request")
        # The API's own file route, so that a script's token opens them (the page's route needs a login).
        return {name: request.build_absolute_uri(reverse("api:pool-quality-file", args=[run.pool_id, run.pk, name]))
                for name in run.files} if request is not None else {}


class PoolViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Pool.objects.all()
    serializer_class = PoolSerializer
    permission_classes = [CoordinatorOrReadOnlyAnalyst]
    schema = MirageSchema()
    errors = {"quality": (400, 404)}

    @extend_schema(methods=["GET"], request=None, responses={200: QualityRunSerializer},
                   summary="the pool's newest quality report run (404 when none was ever started)")
    @extend_schema(methods=["POST"], request=None, responses={201: QualityRunSerializer, 200: QualityRunSerializer},
                   summary="queue a quality report of the pool (200 with the run already queued or running)")
    @action(detail=True, methods=["get", "post"])
    def quality(self, request, pk=None, format=None):
        pool = self.get_object()
        if request.method == "POST":
            try:
                run, started = start_quality_report(pool, user=request.user)
            except QualityReportError as exc:
                return ApiResponse({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
            return ApiResponse(QualityRunSerializer(run, context={"request": request}).data,
                               status=status.HTTP_201_CREATED if started else status.HTTP_200_OK)
        run = current_run(pool)
        if run is None:
            return ApiResponse({"detail": "No quality report was started for this pool."},
                               status=status.HTTP_404_NOT_FOUND)
        return ApiResponse(QualityRunSerializer(run, context={"request": request}).data)


class JSONErrorsOnly(BaseContentNegotiation):
    """A file's answer is the file itself, whatever the client accepts; a refusal is JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


class PoolQualityFileView(APIView):
    """A finished quality report's file, for a script with its token: the same bytes and headers as the
    pool page serves (quality.html under the page's sandboxing Content-Security-Policy)."""

    permission_classes = [CoordinatorOrReadOnlyAnalyst]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONErrorsOnly
    schema = MirageSchema()

    @extend_schema(responses={(200, "text/html"): OpenApiTypes.STR, (200, "application/json"): OpenApiTypes.OBJECT,
                              (200, "text/csv"): OpenApiTypes.STR},
                   parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH, enum=list(REPORT_FILES),
                                                description="One of the run's files (its `files`).")],
                   operation_id="pools_quality_file",
                   summary="one file of a finished quality report run (404 while it is queued, running or failed)")
    def get(self, request, pk: int, run_pk: int, name: str, format=None):
        try:
            run = QualityRun.objects.get(pk=run_pk, pool_id=pk, status=QualityStatus.DONE)
        except QualityRun.DoesNotExist:
            raise Http404("No finished quality report run by that id on this pool.") from None
        response = quality_file_response(run, name)
        if response is None:
            raise Http404("This report has no such file.")
        return response


# Every action takes `format`: the router also serves each route with a suffix (/api/studies/1/copy.json),
# and passes the suffix to the action.
class StudyViewSet(viewsets.ModelViewSet):
    queryset = Study.objects.select_related("pool")
    serializer_class = StudySerializer
    permission_classes = [CoordinatorOrReadOnlyAnalyst]
    schema = MirageSchema()
    # A frozen design, a study with readers (400); a transition the study's status does not allow (409).
    errors = {"destroy": (400,), "transition": (400, 409), "report": (400,)}

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)

    def perform_update(self, serializer):
        study = serializer.instance
        for field, value in serializer.validated_data.items():
            setattr(study, field, value)
        try:
            save_design(study)
        except DesignFrozen as exc:
            raise ValidationError(str(exc)) from None
        except ScheduleError as exc:
            raise ValidationError(f"The invited readers' schedules cannot be rebuilt: {exc}") from None

    def perform_destroy(self, instance):
        if instance.readers.exists():
            raise ValidationError("A study with readers cannot be deleted; close it instead.")
        try:
            instance.delete()
        except ProtectedError:
            raise ValidationError("This study is still referenced and cannot be deleted.") from None

    @extend_schema(request=None, responses=StudySerializer, summary="open, pause or close the study",
                   operation_id="studies_transition")
    @action(detail=True, methods=["post"], url_path=r"(?P<transition>open|pause|close)")
    def transition(self, request, pk=None, transition=None, format=None):
        study = self.get_object()
        try:
            change_status(study, transition)
        except ActionRefused as exc:
            return ApiResponse({"detail": str(exc)}, status=exc.status)
        return ApiResponse(StudySerializer(study).data)

    @extend_schema(request=None, responses={201: StudySerializer}, summary="a draft copy of the study")
    @action(detail=True, methods=["post"])
    def copy(self, request, pk=None, format=None):
        study = copy_study(self.get_object(), request.user)
        return ApiResponse(StudySerializer(study).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="the analysis report (live while the study runs)",
                   parameters=[OpenApiParameter("exclude", str, many=True, enum=list(dict(EXCLUSION_CHOICES)),
                                                description="Leave out the readers or responses of these rules.")])
    @action(detail=True, methods=["get"], permission_classes=[IsAnalyst])
    def report(self, request, pk=None, format=None):
        exclusions = request.query_params.getlist("exclude")
        unknown = sorted(set(exclusions) - set(dict(EXCLUSION_CHOICES)))
        if unknown:
            return ApiResponse({"detail": f"Unknown exclusion rule(s) {', '.join(unknown)}; use "
                                          f"{', '.join(dict(EXCLUSION_CHOICES))}."}, status=400)
        return ApiResponse(study_report(self.get_object(), exclusions=exclusions))

    @extend_schema(responses={(200, "text/csv"): bytes}, summary="all responses as a tidy CSV (streamed)")
    @action(detail=True, methods=["get"], permission_classes=[IsAnalyst], url_path="responses.csv")
    def responses_csv(self, request, pk=None, format=None):
        response = StreamingHttpResponse(csv_lines(self.get_object()), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="mirage-study-{pk}-responses.csv"'
        return response


class InviteListSerializer(serializers.Serializer):
    study = serializers.PrimaryKeyRelatedField(queryset=Study.objects.all())
    readers = serializers.CharField(
        max_length=256 * 1024, trim_whitespace=False,
        help_text="One reader per line: name or code, then optionally e-mail and account, separated by commas or "
                  "tabs; a first line naming the columns (name, email, account) is read as a header.")


class InvitedListSerializer(serializers.Serializer):
    invited = ReaderSerializer(many=True)
    email_problems = serializers.ListField(
        child=serializers.CharField(), help_text="Invitation e-mails that could not be sent (the readers are invited).")


class ExcludeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


@extend_schema_view(list=extend_schema(parameters=[id_filter("study", "study")]))
class ReaderViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ReaderSerializer
    permission_classes = [CoordinatorOrReadOnlyAnalyst]
    schema = MirageSchema()
    errors = {"create": (409,)}  # a closed study; a name already invited

    def get_queryset(self):
        queryset = Reader.objects.select_related("study").annotate(
            trials_total=Count("trials", filter=~Q(trials__kind=TrialKind.PRACTICE)),
            trials_done=Count("trials", filter=~Q(trials__kind=TrialKind.PRACTICE) & Q(trials__response__isnull=False)),
        ).order_by("pk")
        return filter_by_id(queryset, self.request, "study", "study_id")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        study = serializer.validated_data["study"]
        try:
            reader, _ = invite_reader(study, serializer.validated_data["name"],
                                      serializer.validated_data.get("email", ""),
                                      user=serializer.validated_data.get("user"),
                                      link_for=lambda r: request.build_absolute_uri(
                                          reverse("reader-start", args=[r.token])))
        except ActionRefused as exc:
            return ApiResponse({"detail": str(exc)}, status=exc.status)
        reader = self.get_queryset().get(pk=reader.pk)
        return ApiResponse(self.get_serializer(reader).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=InviteListSerializer, responses={201: InvitedListSerializer},
                   summary="invite a list of readers: all of them, or nobody when a line is wrong")
    @action(detail=False, methods=["post"], url_path="invite-list")
    def invite_list(self, request, format=None):
        body = InviteListSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            rows = parse_reader_list(body.validated_data["readers"])
            readers, failed = invite_readers(body.validated_data["study"], rows, link_for=lambda r: (
                request.build_absolute_uri(reverse("reader-start", args=[r.token]))))
        except ReaderListError as exc:
            return ApiResponse({"readers": exc.problems}, status=status.HTTP_400_BAD_REQUEST)
        except ActionRefused as exc:
            return ApiResponse({"detail": str(exc)}, status=exc.status)
        invited = self.get_serializer(self.get_queryset().filter(pk__in=[r.pk for r in readers]), many=True).data
        return ApiResponse({"invited": invited, "email_problems": failed}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ReaderSerializer, summary="withdraw the invitation link")
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None, format=None):
        reader = revoke_reader(self.get_object())
        return ApiResponse(self.get_serializer(self.get_queryset().get(pk=reader.pk)).data)

    @extend_schema(request=ExcludeSerializer, responses=ReaderSerializer, summary="exclude the reader from the study")
    @action(detail=True, methods=["post"])
    def exclude(self, request, pk=None, format=None):
        reader = self.get_object()
        body = ExcludeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reader = exclude_reader(reader, body.validated_data["reason"])
        return ApiResponse(self.get_serializer(self.get_queryset().get(pk=reader.pk)).data)


@extend_schema_view(list=extend_schema(parameters=[id_filter("reader", "reader")]))
class TrialViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = TrialSerializer
    permission_classes = [IsAnalyst]
    schema = MirageSchema()

    def get_queryset(self):
        queryset = Trial.objects.prefetch_related("images__image").order_by("reader_id", "index")
        return filter_by_id(queryset, self.request, "reader", "reader_id")


@extend_schema_view(list=extend_schema(parameters=[id_filter("study", "study")]))
class ResponseViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ResponseSerializer
    permission_classes = [IsAnalyst]
    schema = MirageSchema()

    def get_queryset(self):
        queryset = Response.objects.select_related("trial").order_by("trial__reader_id", "trial__index")
        return filter_by_id(queryset, self.request, "study", "trial__reader__study_id")
