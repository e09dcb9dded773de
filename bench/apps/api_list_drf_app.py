"""Django REST framework's list endpoint: a ModelViewSet with PageNumberPagination.

    granian --interface wsgi bench.apps.api_list_drf_app:app

Django as deployed for an API: WSGI, its psycopg pool, no middleware or apps
the endpoint does not need (as TechEmpower's Django setup); DRF's defaults
otherwise (JSON renderer only, no authentication or throttling to charge).
"""

from __future__ import annotations

from typing import Any

import django
from django.apps import AppConfig
from django.conf import settings

from bench.apps.api_list_common import API_DATABASE_URL, PAGE_SIZE, POOL_SIZE, SECRET_KEY, TABLE
from bench.common import dsn_parts


class ApiListConfig(AppConfig):  # type: ignore[misc]  # no django-stubs
    name = "bench.apps"
    label = "bench_api_list"
    default_auto_field = "django.db.models.AutoField"


if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["rest_framework", f"{__name__}.ApiListConfig"],
        MIDDLEWARE=[],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                **dsn_parts(API_DATABASE_URL),
                "CONN_MAX_AGE": 0,
                "OPTIONS": {"pool": {"min_size": 2, "max_size": POOL_SIZE, "timeout": 10}},
            }
        },
        REST_FRAMEWORK={
            "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
            "DEFAULT_AUTHENTICATION_CLASSES": [],
            "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
            "UNAUTHENTICATED_USER": None,
        },
        USE_TZ=True,
    )
    django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import models  # noqa: E402
from django.urls import include, path  # noqa: E402
from rest_framework import pagination, routers, serializers, viewsets  # noqa: E402


class Item(models.Model):  # type: ignore[misc]
    title = models.CharField(max_length=200)
    body = models.TextField()
    published = models.BooleanField()
    views = models.IntegerField()

    class Meta:
        app_label = "bench_api_list"
        db_table = TABLE
        managed = False


class ItemSerializer(serializers.ModelSerializer):  # type: ignore[misc]
    class Meta:
        model = Item
        fields = ["id", "title", "body", "published", "views"]


class Pages(pagination.PageNumberPagination):  # type: ignore[misc]
    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = 100


class ItemViewSet(viewsets.ModelViewSet):  # type: ignore[misc]
    queryset = Item.objects.order_by("id")
    serializer_class = ItemSerializer
    pagination_class = Pages


router = routers.SimpleRouter(trailing_slash=False)
router.register("items", ItemViewSet)
urlpatterns: list[Any] = [path("api/", include(router.urls))]

app = get_wsgi_application()
