"""Django settings for the enqueue-rate benchmark: Django's tasks API on Celery.

Django 6.0's ``django.tasks`` needs Python 3.12; on Django 5.2 the same API is
the ``django-tasks`` package (its backport, by the API's author), and its
Celery backend is ``django-tasks-fennel``'s ``CeleryBackend``. Celery reads the
``CELERY_*`` settings below, the same as carboy's ``CeleryBackend`` sets them
(``bench.enqueue.CELERY_CONF``). Used as ``DJANGO_SETTINGS_MODULE`` by
``bench.enqueue``; no database, no result store.
"""

from __future__ import annotations

import os

from bench.enqueue import CELERY_CONF

SECRET_KEY = "django-bench-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django_tasks", "django_tasks_fennel"]
TASKS = {
    "default": {
        "BACKEND": "django_tasks_fennel.CeleryBackend",
        "QUEUES": [os.environ.get("BENCH_QUEUE", "default")],
    }
}
CELERY_BROKER_URL = os.environ.get("BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
for _name, _value in CELERY_CONF.items():
    globals()["CELERY_" + _name.upper()] = _value
