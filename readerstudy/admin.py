from django.contrib import admin

from .models import Pool, PoolImage, Reader, ReadingSession, Response, Study, Trial, TrialImage


class AnswersAreRecords(admin.ModelAdmin):
    """Acknowledged answers and the trials they belong to are records: shown, never changed or deleted."""

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Pool)
class PoolAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at", "code_version"]
    readonly_fields = ["manifest_sha256", "directory", "settings", "code_version"]


@admin.register(PoolImage)
class PoolImageAdmin(AnswersAreRecords):
    list_display = ["uid", "pool", "image_class", "resolution", "label", "source"]
    list_filter = ["pool", "image_class", "resolution"]
    search_fields = ["uid", "source_id", "source"]


class ReaderInline(ReadOnlyInline):
    model = Reader
    fields = ["name", "email", "started_at", "finished_at", "revoked_at", "excluded"]
    readonly_fields = fields


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "design", "pool", "created_at", "frozen_at"]
    list_filter = ["status", "design"]
    inlines = [ReaderInline]

    def get_readonly_fields(self, request, obj=None):
        # Design is edited on the study pages (which rebuild readers' schedules); here it is shown only
        # once readers exist, and a study with answers cannot be deleted.
        if obj is not None and (obj.is_frozen or obj.readers.exists()):
            return ["frozen_at", "seed", *Study.DESIGN_FIELDS]
        return ["frozen_at"]

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.is_frozen


@admin.register(Reader)
class ReaderAdmin(admin.ModelAdmin):
    list_display = ["name", "study", "started_at", "finished_at", "revoked_at", "excluded"]
    list_filter = ["study", "excluded"]
    readonly_fields = ["study", "user", "token", "seed", "schedule_version", "questionnaire", "consented_at",
                       "started_at", "finished_at", "last_seen_at"]

    def has_delete_permission(self, request, obj=None):
        return obj is None or not Response.objects.filter(trial__reader=obj).exists()


@admin.register(ReadingSession)
class ReadingSessionAdmin(admin.ModelAdmin):
    list_display = ["reader", "started_at", "last_seen_at", "user_agent"]


class TrialImageInline(ReadOnlyInline):
    model = TrialImage
    fields = ["position", "image", "token"]
    readonly_fields = fields


@admin.register(Trial)
class TrialAdmin(AnswersAreRecords):
    list_display = ["reader", "index", "kind", "resolution", "block", "odd_position", "exposure_ms"]
    list_filter = ["kind", "resolution", "reader__study"]
    readonly_fields = ["token", "first_served_at"]
    inlines = [TrialImageInline]


@admin.register(Response)
class ResponseAdmin(AnswersAreRecords):
    list_display = ["trial", "answer", "chosen_position", "rating", "confidence", "correct", "received_at"]
    list_filter = ["trial__reader__study", "correct"]
