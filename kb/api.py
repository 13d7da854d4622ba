"""REST API of the knowledge base: articles (list, search, detail) with the pages' rules of
who sees what: end users only published public articles, staff internal ones too, writers
also drafts; anything else is a 404."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from helpdesk.api import MAX_ID, ApiFilterSet, ApiViewMixin, IdFilter
from kb import selectors
from kb.forms import QUERY_MAX_LENGTH
from kb.models import Article, Audience, Language, State
from kb.search import MAX_RESULTS


class ArticleSummarySerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    category = serializers.StringRelatedField()

    class Meta:
        model = Article
        fields = [
            "id",
            "reference",
            "title",
            "summary",
            "language",
            "audience",
            "state",
            "category",
            "review_by",
            "published_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields


class ArticleSerializer(ArticleSummarySerializer):
    body = serializers.CharField(read_only=True, help_text=_("The text in Markdown."))
    body_html = serializers.SerializerMethodField(
        help_text=_("The text rendered as sanitised HTML.")
    )
    services = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    translation_of = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta(ArticleSummarySerializer.Meta):
        fields = [
            *ArticleSummarySerializer.Meta.fields,
            "body",
            "body_html",
            "services",
            "translation_of",
        ]
        read_only_fields = fields

    def get_body_html(self, article) -> str:
        from kb.text import render_markdown

        return str(render_markdown(article.body))


class SearchHitSerializer(serializers.Serializer):
    article = ArticleSummarySerializer()
    rank = serializers.FloatField()
    snippet = serializers.CharField(
        help_text=_("Plain text around the matches, HTML-escaped, matches in <mark>.")
    )


class SearchQuerySerializer(serializers.Serializer):
    # Not trimmed: a query of spaces is valid and finds nothing (the schema says min 1).
    q = serializers.CharField(
        max_length=QUERY_MAX_LENGTH, trim_whitespace=False, help_text=_("What to search for.")
    )
    language = serializers.ChoiceField(choices=Language.choices, required=False)
    limit = serializers.IntegerField(
        min_value=1, max_value=MAX_RESULTS, default=10, help_text=_("At most this many.")
    )


class ArticleFilter(ApiFilterSet):
    language = filters.ChoiceFilter(choices=Language.choices)
    audience = filters.ChoiceFilter(choices=Audience.choices)
    state = filters.ChoiceFilter(choices=State.choices)
    category = IdFilter(field_name="category")
    service = IdFilter(field_name="services", distinct=True)

    class Meta:
        model = Article
        fields = ["language", "audience", "state", "category", "service"]


class ArticleViewSet(
    ApiViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Articles the user may read."""

    serializer_class = ArticleSerializer
    filterset_class = ArticleFilter
    filter_backends = [filters.DjangoFilterBackend]
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Article.objects.none()
        queryset = (
            selectors.article_queryset_for(self.request.user)
            .select_related("category")
            .order_by("-updated_at", "-id")
        )
        if self.action != "list":
            queryset = queryset.prefetch_related("services")
        return queryset

    def get_serializer_class(self):
        if self.action == "list":
            return ArticleSummarySerializer
        return ArticleSerializer

    def get_object(self):
        pk = int(self.kwargs["pk"])
        article = self.get_queryset().filter(pk=pk).first() if pk <= MAX_ID else None
        if article is None:
            raise Http404
        return article

    @extend_schema(
        summary=_("Search published articles, best first"),
        parameters=[SearchQuerySerializer],
        responses={200: SearchHitSerializer(many=True)},
        filters=False,
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def search(self, request):
        query = SearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        hits = selectors.article_search(
            request.user, data["q"], limit=data["limit"], language=data.get("language")
        )
        return Response(
            SearchHitSerializer(
                [
                    {"article": hit.article, "rank": hit.rank, "snippet": hit.snippet}
                    for hit in hits
                ],
                many=True,
            ).data
        )


router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("kb/articles", ArticleViewSet, basename="api-kb-article")

urlpatterns = router.urls
