"""Django's admin on the table of ``bench.admin_list``, configured in one file.

The database comes from ``BENCH_ADMIN_DATABASE_URL`` (set by
``bench.admin_list_django`` before it imports this). The models map the
tables carboy made (``managed = False``); Django's own tables (users,
sessions, content types, the admin log) go to a schema of their own,
``django_admin``, first on the connection's ``search_path``, so that they do
not meet carboy.auth's tables of the same names in ``public``.

The settings are ``django-admin startproject``'s (its middleware and template
context processors), with a persistent connection (``CONN_MAX_AGE=None``)
as a production site would keep one. ``BenchPostAdmin`` has the options of
carboy's ``bench.admin_list.BenchPostAdmin``: the same columns, search field,
filters, order (``-id``, carboy's default) and 50 rows a page; everything
else is Django's default.
"""

from __future__ import annotations

import os

import django
from django.apps import AppConfig
from django.conf import settings

from bench.admin_pages import PER_PAGE, SEARCH
from bench.common import dsn_parts

SCHEMA = "django_admin"


class BenchAdminConfig(AppConfig):  # type: ignore[misc]  # no django-stubs
    """Registers this file's models under the ``bench`` label (``/admin/bench/...``)."""

    name = "bench.apps"
    label = "bench"
    default_auto_field = "django.db.models.AutoField"


if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-admin-not-secret",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            f"{__name__}.BenchAdminConfig",
        ],
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                **dsn_parts(os.environ["BENCH_ADMIN_DATABASE_URL"]),
                "CONN_MAX_AGE": None,
                "OPTIONS": {"options": f"-c search_path={SCHEMA},public"},
            }
        },
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        STATIC_URL="static/",
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()

# Everything below needs a configured, set-up Django.
from django.contrib import admin  # noqa: E402
from django.db import models  # noqa: E402
from django.urls import path  # noqa: E402


class BenchSection(models.Model):  # type: ignore[misc]
    name = models.CharField(max_length=100)

    class Meta:
        app_label = "bench"
        db_table = "bench_admin_section"
        managed = False

    def __str__(self) -> str:
        return str(self.name)


class BenchPost(models.Model):  # type: ignore[misc]
    title = models.CharField(max_length=200)
    body = models.TextField(default="")
    published = models.BooleanField(default=False, db_index=True)
    section = models.ForeignKey(
        BenchSection, null=True, on_delete=models.DO_NOTHING, db_column="section_id"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        app_label = "bench"
        db_table = "bench_admin_post"
        managed = False

    def __str__(self) -> str:
        return str(self.title)


@admin.register(BenchPost)  # type: ignore[untyped-decorator]
class BenchPostAdmin(admin.ModelAdmin):  # type: ignore[misc]
    list_display = ["title", "published", "section_id", "created_at"]
    search_fields = ["title"]
    list_filter = ["published", "section"]
    ordering = ["-id"]
    list_per_page = PER_PAGE


admin.site.register(BenchSection)

urlpatterns = [path("admin/", admin.site.urls)]

#: The pages of ``bench.admin_pages.PAGE_NAMES``, as Django's admin spells them.
PAGES = {
    "list": "/admin/bench/benchpost/",
    "search": f"/admin/bench/benchpost/?q={SEARCH}",
    "filtered": "/admin/bench/benchpost/?published__exact=1&section__id__exact=3",
    "next page": "/admin/bench/benchpost/?p=2",
}
