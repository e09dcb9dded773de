"""Templates that follow lazy relationships, rendered from sync and async handlers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carboy.db import AsyncSession, Database, Session
from carboy.templating import TemplateResponse, render
from carboy.testing import AsyncTestClient
from tests.db.conftest import new_app

pytestmark = pytest.mark.anyio

DETAIL = (
    "<h1>{{ question.text }}</h1>{% for c in question.choices %}<li>{{ c.text }}</li>{% endfor %}"
)


def _polls(base: Any) -> tuple[Any, Any]:
    class Question(base):  # type: ignore[misc, valid-type]
        text: Mapped[str] = mapped_column(String(200))
        choices: Mapped[list[Choice]] = relationship(back_populates="question")

    class Choice(base):  # type: ignore[misc, valid-type]
        text: Mapped[str] = mapped_column(String(200))
        question_id: Mapped[int] = mapped_column(ForeignKey("question.id"))
        question: Mapped[Question] = relationship(back_populates="choices")

    return Question, Choice


def _app(tmp_path: Path, url: str, base: Any, mode: str) -> tuple[Any, Database, Any, Any]:
    Question, Choice = _polls(base)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "detail.html").write_text(DETAIL)
    app = new_app(root=tmp_path)
    db = Database(url, base=base)
    app.install(db)
    if mode == "sync":

        @app.get("/q/{id:int}")
        def detail_sync(id: int, session: Session) -> TemplateResponse:
            question = session.scalars(select(Question).where(Question.id == id)).one()
            return render("detail.html", {"question": question})

    else:

        @app.get("/q/{id:int}")
        async def detail_async(id: int, session: AsyncSession) -> TemplateResponse:
            question = (await session.scalars(select(Question).where(Question.id == id))).one()
            return render("detail.html", {"question": question})

    @app.get("/detached/{id:int}")
    def detached(id: int) -> TemplateResponse:
        with db.session() as session:
            question = session.scalars(select(Question).where(Question.id == id)).one()
        return render("detail.html", {"question": question})

    db.create_all()
    with db.session() as session:
        question = Question(text="What's new?")
        question.choices = [Choice(text="Not much"), Choice(text="The sky")]
        session.add(question)
        session.commit()
    return app, db, Question, Choice


async def test_a_template_follows_a_lazy_relationship(
    tmp_path: Path, database_url: str, tables: Any, mode: str
) -> None:
    app, _, _, _ = _app(tmp_path, database_url, tables, mode)
    async with AsyncTestClient(app) as client:
        response = await client.get("/q/1")
    assert response.status_code == 200
    assert response.text == "<h1>What&#39;s new?</h1><li>Not much</li><li>The sky</li>"
    assert response.headers["content-length"] == str(len(response.content))


async def test_a_relationship_that_cannot_load_names_the_fix(
    tmp_path: Path, database_url: str, tables: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app, _, _, _ = _app(tmp_path, database_url, tables, "sync")
    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        response = await client.get("/detached/1")
    assert response.status_code == 500
    assert "selectinload(Question.choices)" in caplog.text
