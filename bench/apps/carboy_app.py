"""carboy under test: the same routes as every peer, written with carboy's public API.

The database tests use the ``carboy.db`` battery (``bench.apps.carboy_db``):
its pooled asyncpg connections, prepared statements and one batched UPDATE.
Like every TechEmpower app, it has no sessions or sign-in: the full-stack page
test runs against ``bench.apps.carboy_page_app``, the site with ``carboy.auth``
on every route.
"""

from __future__ import annotations

from bench.apps.carboy_db import install_db_routes
from bench.common import DATABASE_URL, MESSAGE, POOL_SIZE
from carboy import Carboy
from carboy.db import Database
from carboy.settings import Settings

# carboy refuses short secret keys in production; this one is public and fine for a benchmark.
SECRET_KEY = "carboy-bench-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"

app = Carboy(
    Settings(
        debug=False,
        secret_key=SECRET_KEY,
        # Production as deployed: the Host header is checked on every request.
        allowed_hosts=["127.0.0.1", "localhost"],
    )
)
db = Database(DATABASE_URL, pool_size=POOL_SIZE, max_overflow=0, pool_timeout=30)
app.install(db)


@app.get("/plaintext", media_type="text/plain")
async def plaintext() -> str:
    return "Hello, World!"


@app.get("/json")
async def json() -> dict[str, str]:
    return {"message": MESSAGE}


@app.get("/users/{id:int}")
async def user(id: int) -> dict[str, int]:
    return {"id": id}


install_db_routes(app, DATABASE_URL)
