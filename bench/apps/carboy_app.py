"""carboy under test: the same routes as every peer, written with carboy's public API.

LEAD: this file was written against the *planned* API (``Carboy(...)``,
``@app.get(path, media_type=...)``, query parameters injected by name, return
values encoded from the return annotation). Adjust it to the real API; the
harness imports ``bench.apps.carboy_app:app`` like every other framework,
verifies each response before measuring, and reports a failure (not a score)
for any test that answers wrongly. A route that answers 404 counts as "not
implemented" and is skipped.

The places to fill are marked ``LEAD:`` below:

1. the database tests use the same raw asyncpg layer as the ASGI peers
   (``bench.apps._pg``, pool opened lazily on the first query because the
   start-up hook API is not settled). Swap in ``carboy.db`` when it exists,
   and open the pool in carboy's start-up hook;
2. ``/login`` and ``/page`` (the full-stack test) wait for the auth battery.
"""

from __future__ import annotations

from jinja2 import Environment, FileSystemLoader

from bench.apps._pg import Database
from bench.common import MESSAGE, TEMPLATES_DIR, parse_queries
from carboy import Carboy

# carboy refuses short secret keys in production; this one is public and fine for a benchmark.
SECRET_KEY = "carboy-bench-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"

app = Carboy(debug=False, secret_key=SECRET_KEY, allowed_hosts=["*"])


@app.get("/plaintext", media_type="text/plain")
async def plaintext() -> str:
    return "Hello, World!"


@app.get("/json")
async def json() -> dict[str, str]:
    return {"message": MESSAGE}


@app.get("/users/{id:int}")
async def user(id: int) -> dict[str, int]:
    return {"id": id}


# LEAD: (1) database tests. Replace ``database`` with carboy's own data layer
# (prepared statements, batched updates) and open it in the start-up hook.
database = Database()
templates = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True)
fortunes_template = templates.get_template("fortunes_rows.html")


@app.get("/db")
async def db() -> dict[str, int]:
    return await database.world()


@app.get("/queries")
async def queries(queries: str | None = None) -> list[dict[str, int]]:
    return await database.worlds(parse_queries(queries))


@app.get("/fortunes", media_type="text/html; charset=utf-8")
async def fortunes() -> str:
    return fortunes_template.render(fortunes=await database.fortunes())


@app.get("/updates")
async def updates(queries: str | None = None) -> list[dict[str, int]]:
    return await database.update_worlds(parse_queries(queries))


# LEAD: (2) the full-stack test, once the auth battery exists. The harness
# POSTs the form ``username=bench&password=bench-password`` (the user that
# ``bench.db_setup`` seeds; add a ``bench_setup()`` function here to seed
# carboy's own user store, as django_app.py and flask_app.py do) to ``/login``
# with ``User-Agent: carboy-bench``, keeps every cookie the response sets, then
# measures ``GET /page`` with those cookies. ``/page`` must resolve the session
# cookie to the logged-in user, run one query (fortunes ordered by id) and
# render ``templates/page.html`` with ``user`` and ``fortunes``; the check is
# a 200 that contains the username and the escaped ``<script>`` fortune.
# While ``/login`` answers 404 the test is reported as "not implemented".
