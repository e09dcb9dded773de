"""Django under ASGI, configured in one file: the ORM on PostgreSQL (psycopg 3 pool).

Choices, each the idiomatic fast one for Django 5 under ASGI:

- plaintext and json are ``async def`` views, so they run on the event loop;
- the database views are ordinary sync views: Django runs each in one thread
  hop, and the ORM's async methods would cost one hop per query instead;
- connections come from Django's built-in psycopg pool (``OPTIONS["pool"]``),
  which the docs recommend over persistent connections under ASGI;
- ``MIDDLEWARE`` lists the session and authentication middleware, as a Django
  project does (``django.contrib.sessions`` on the database, Django's default,
  or ``BENCH_DJANGO_SESSIONS=signed_cookies``); both are lazy, so the routes
  that never read ``request.session`` or ``request.user`` pay only for the
  layers. Every peer with a page has its session and auth layer on its whole app;
  carboy's page app is separate from its TechEmpower app (``carboy_page_app``).
"""

from __future__ import annotations

import os
from operator import attrgetter
from typing import Any

import django
from django.apps import AppConfig
from django.conf import settings

from bench.common import (
    ADDITIONAL_FORTUNE,
    BENCH_EMAIL,
    BENCH_PASSWORD,
    BENCH_USERNAME,
    MESSAGE,
    PLAINTEXT,
    POOL_SIZE,
    TEMPLATES_DIR,
    dsn_parts,
    new_number,
    parse_queries,
    random_id,
    random_ids,
)


class BenchConfig(AppConfig):  # type: ignore[misc]  # no django-stubs
    """Registers this file's models under the ``bench`` label."""

    name = "bench.apps"
    label = "bench"
    default_auto_field = "django.db.models.AutoField"


if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-not-secret",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            f"{__name__}.BenchConfig",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                **dsn_parts(),
                "CONN_MAX_AGE": 0,
                "OPTIONS": {"pool": {"min_size": 2, "max_size": POOL_SIZE, "timeout": 10}},
            }
        },
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [str(TEMPLATES_DIR)],
            }
        ],
        SESSION_ENGINE="django.contrib.sessions.backends."
        + os.environ.get("BENCH_DJANGO_SESSIONS", "db"),
        LOGIN_URL="/login",
        USE_TZ=True,
        USE_I18N=False,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()

# Everything below needs a configured, set-up Django.
from django.contrib.auth import authenticate, get_user_model, login  # noqa: E402
from django.contrib.auth.decorators import login_required  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.db import models  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.shortcuts import render  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.http import require_POST  # noqa: E402


class World(models.Model):  # type: ignore[misc]
    randomnumber = models.IntegerField()

    class Meta:
        app_label = "bench"
        db_table = "world"
        managed = False


class Fortune(models.Model):  # type: ignore[misc]
    message = models.CharField(max_length=2048)

    class Meta:
        app_label = "bench"
        db_table = "fortune"
        managed = False


_world_values = World.objects.values("id", "randomnumber")
_by_message = attrgetter("message")


async def plaintext(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PLAINTEXT, content_type="text/plain")


async def json(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"message": MESSAGE})


async def user(request: HttpRequest, id: int) -> JsonResponse:
    return JsonResponse({"id": id})


def _world(row: dict[str, Any]) -> dict[str, int]:
    return {"id": row["id"], "randomNumber": row["randomnumber"]}


def db(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_world(_world_values.get(id=random_id())))


def queries(request: HttpRequest) -> JsonResponse:
    count = parse_queries(request.GET.get("queries"))
    worlds = [_world(_world_values.get(id=random_id())) for _ in range(count)]
    return JsonResponse(worlds, safe=False)


def fortunes(request: HttpRequest) -> HttpResponse:
    rows = list(Fortune.objects.all())
    rows.append(Fortune(id=0, message=ADDITIONAL_FORTUNE))
    rows.sort(key=_by_message)
    return render(request, "fortunes_objects.html", {"fortunes": rows})


def updates(request: HttpRequest) -> JsonResponse:
    count = parse_queries(request.GET.get("queries"))
    worlds = [World.objects.get(id=row_id) for row_id in random_ids(count)]
    for world in worlds:
        world.randomnumber = new_number(world.randomnumber)
    World.objects.bulk_update(worlds, ["randomnumber"])
    return JsonResponse(
        [{"id": world.id, "randomNumber": world.randomnumber} for world in worlds], safe=False
    )


@require_POST  # type: ignore[untyped-decorator]
def login_view(request: HttpRequest) -> HttpResponse:
    user = authenticate(
        request,
        username=request.POST.get("username", ""),
        password=request.POST.get("password", ""),
    )
    if user is None:
        return HttpResponse("bad credentials", status=403, content_type="text/plain")
    login(request, user)
    return HttpResponse(status=204)


@login_required  # type: ignore[untyped-decorator]
def page(request: HttpRequest) -> HttpResponse:
    rows = Fortune.objects.order_by("id")
    return render(request, "page.html", {"user": request.user, "fortunes": rows})


urlpatterns = [
    path("plaintext", plaintext),
    path("json", json),
    path("users/<int:id>", user),
    path("db", db),
    path("queries", queries),
    path("fortunes", fortunes),
    path("updates", updates),
    path("login", login_view),
    path("page", page),
]

app = get_asgi_application()


def bench_setup() -> None:
    """Create Django's own tables and the ``/page`` user (called by ``bench.db_setup``)."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username=BENCH_USERNAME, defaults={"email": BENCH_EMAIL}
    )
    if not user.check_password(BENCH_PASSWORD):
        user.set_password(BENCH_PASSWORD)
        user.save()
