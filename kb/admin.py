from django.contrib import admin

from kb.models import (
    Announcement,
    Article,
    ArticleCategory,
    ArticleRevision,
    ArticleVersion,
    Deflection,
    ReviewReminder,
    Script,
    ScriptRun,
    ScriptRunAnswer,
    ScriptVersion,
)


@admin.register(ArticleCategory)
class ArticleCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "order"]


class ArticleVersionInline(admin.TabularInline):
    model = ArticleVersion
    fields = ["number", "title", "state", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    """Reading and the details that sit outside the text; the text and the workflow are
    changed on the knowledge-base pages, which keep the versions."""

    list_display = ["title", "language", "audience", "state", "owner", "review_by"]
    list_filter = ["state", "audience", "language", "category"]
    search_fields = ["title"]
    fields = ["title", "summary", "language", "audience", "category", "services", "owner",
              "review_by", "translation_of", "state", "version"]  # fmt: skip
    readonly_fields = ["title", "summary", "state", "version"]
    autocomplete_fields = ["translation_of"]
    raw_id_fields = ["owner"]
    inlines = [ArticleVersionInline]


@admin.register(ArticleRevision)
class ArticleRevisionAdmin(admin.ModelAdmin):
    """Reading only: revisions are written, reviewed and published on the knowledge-base
    pages, which keep the versions and the events."""

    list_display = ["article", "state", "base_number", "created_by", "updated_at"]
    list_filter = ["state"]
    search_fields = ["article__title"]
    readonly_fields = ["article", "version", "base_number", "state", "created_by", "created_at",
                       "updated_at"]  # fmt: skip

    def has_add_permission(self, request):
        return False


@admin.register(Deflection)
class DeflectionAdmin(admin.ModelAdmin):
    list_display = ["article", "query", "at"]
    readonly_fields = ["article", "user", "query", "at"]


@admin.register(ReviewReminder)
class ReviewReminderAdmin(admin.ModelAdmin):
    list_display = ["article", "review_by", "owner", "sent_at"]
    readonly_fields = ["article", "review_by", "owner", "sent_at"]


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin):
    list_display = ["title", "severity", "audience", "pinned", "valid_from", "valid_until"]
    list_filter = ["severity", "audience", "pinned"]
    search_fields = ["title", "body"]
    filter_horizontal = ["services"]
    readonly_fields = ["created_by", "created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class ScriptVersionInline(admin.TabularInline):
    # Versions are published from the script editor (validated there) and never changed.
    model = ScriptVersion
    fields = ["number", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Script)
class ScriptAdmin(admin.ModelAdmin):
    list_display = ["name", "language", "is_active", "created_at"]
    list_filter = ["language", "is_active"]
    search_fields = ["name"]
    filter_horizontal = ["categories", "services"]
    readonly_fields = ["created_by", "created_at"]
    inlines = [ScriptVersionInline]


class ScriptRunAnswerInline(admin.TabularInline):
    model = ScriptRunAnswer
    fields = ["position", "step", "question", "label", "answered_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ScriptRun)
class ScriptRunAdmin(admin.ModelAdmin):
    list_display = ["version", "ticket", "agent", "outcome", "started_at", "ended_at"]
    list_filter = ["outcome"]
    readonly_fields = [
        "ticket", "version", "agent", "current_step", "outcome", "outcome_detail",
        "started_at", "updated_at", "ended_at",
    ]  # fmt: skip
    inlines = [ScriptRunAnswerInline]

    def has_add_permission(self, request):
        return False
