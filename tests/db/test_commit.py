"""on_commit: work that waits for the transaction (request sessions and transaction blocks)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Mapped

from carboy import Carboy, Depends
from carboy.db import AsyncSession, Database, Session, in_transaction, model_base, on_commit
from carboy.exceptions import HTTPException
from carboy.testing import TestClient

Base = model_base()


class Order(Base):
    item: Mapped[str]


#: What the callbacks did (module level: ``place`` is resolved from the module's globals).
_log: list[str] = []


def place(item: str, session: Session) -> Order:
    """A def dependency that writes: its on_commit waits for the request's commit."""
    order = Order(item=item)
    session.add(order)
    on_commit(lambda: _log.append(f"dep {item}"))
    return order


def _app(url: str, tmp_path: Path) -> tuple[Carboy, Database, list[str]]:
    app = Carboy(debug=True, root=tmp_path)
    db = Database(url, base=Base)
    app.install(db)
    log = _log
    log.clear()

    @app.post("/sync/{item}")
    def sync_order(item: str, session: Session) -> dict[str, bool]:
        session.add(Order(item=item))
        on_commit(lambda: log.append(f"sync {item}"))
        if item == "fail":
            raise HTTPException(400, "no")
        return {"inside": in_transaction()}

    @app.post("/async/{item}")
    async def async_order(item: str, session: AsyncSession) -> dict[str, bool]:
        session.add(Order(item=item))

        async def note() -> None:
            log.append(f"async {item}")

        on_commit(note)
        if item == "fail":
            raise HTTPException(400, "no")
        return {"inside": in_transaction()}

    @app.post("/dep/{item}")
    def dep_order(order: Annotated[Order, Depends(place)], session: Session) -> dict[str, bool]:
        # The def dependency and the handler share the request's one session.
        return {"inside": in_transaction() and order in session}

    @app.post("/async-sync-session/{item}")
    async def async_with_sync_session(item: str, session: Session) -> dict[str, bool]:
        session.add(Order(item=item))
        on_commit(lambda: log.append(f"async+sync {item}"))
        return {"inside": in_transaction()}

    @app.post("/dup")
    async def duplicate(session: AsyncSession) -> None:
        session.add(Order(id=1, item="a"))
        on_commit(lambda: log.append("dup"))

    return app, db, log


@pytest.fixture
def setup(database_url: str, tmp_path: Path) -> tuple[Carboy, Database, list[str]]:
    app, db, log = _app(database_url, tmp_path)
    app.build()
    db.drop_all()
    db.create_all()
    return app, db, log


def test_runs_after_the_request_commits(setup: tuple[Carboy, Database, list[str]]) -> None:
    app, db, log = setup
    with TestClient(app) as client:
        assert client.post("/sync/tea").json() == {"inside": True}
        assert client.post("/async/cake").json() == {"inside": True}
        assert client.post("/dep/jam").json() == {"inside": True}
        assert client.post("/async-sync-session/pie").json() == {"inside": True}
    assert log == ["sync tea", "async cake", "dep jam", "async+sync pie"]
    with db.session() as session:
        assert sorted(session.scalars(select(Order.item))) == ["cake", "jam", "pie", "tea"]


def test_never_runs_when_the_request_rolls_back(setup: tuple[Carboy, Database, list[str]]) -> None:
    app, _, log = setup
    with TestClient(app) as client:
        assert client.post("/sync/fail").status_code == 400
        assert client.post("/async/fail").status_code == 400
        assert client.post("/dup").status_code in (200, 204)
        assert client.post("/dup").status_code == 409  # the commit itself fails
    assert log == ["dup"]


def test_transaction_blocks(setup: tuple[Carboy, Database, list[str]]) -> None:
    _, db, _ = setup
    log: list[str] = []
    with db.transaction() as session:
        session.add(Order(item="x"))
        on_commit(lambda: log.append("committed"))
        assert log == [] and in_transaction()
    assert log == ["committed"] and not in_transaction()

    def roll_back() -> None:
        with db.transaction():
            on_commit(lambda: log.append("rolled back"))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        roll_back()
    assert log == ["committed"]


@pytest.mark.anyio
async def test_async_transaction_blocks(setup: tuple[Carboy, Database, list[str]]) -> None:
    _, db, _ = setup
    log: list[str] = []

    async def note() -> None:
        log.append("committed")

    async with db.atransaction() as session:
        session.add(Order(item="x"))
        on_commit(note)
    assert log == ["committed"]
    await db.dispose()


def test_outside_a_transaction_it_runs_at_once() -> None:
    log: list[str] = []
    on_commit(lambda: log.append("now"))
    assert log == ["now"]

    async def later() -> None: ...

    with pytest.raises(TypeError, match="outside of a transaction"):
        on_commit(later)


def test_a_failing_callback_is_logged_and_the_rest_run(
    setup: tuple[Carboy, Database, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    _, db, _ = setup
    log: list[str] = []

    def broken() -> None:
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR, logger="carboy.db"), db.transaction():
        on_commit(broken)
        on_commit(lambda: log.append("second"))
    assert log == ["second"]
    assert "failed after the commit" in caplog.text


def test_an_async_callback_in_a_sync_transaction_is_refused_loudly(
    setup: tuple[Carboy, Database, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    _, db, _ = setup

    async def later() -> None: ...

    with caplog.at_level(logging.ERROR, logger="carboy.db"), db.transaction():
        on_commit(later)
    assert "needs an async session" in caplog.text
