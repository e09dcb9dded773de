"""carboy.exceptions: field errors with their full location, and one base for 4xx with fields."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field

from carboy import (
    Carboy,
    FieldError,
    HTTPException,
    InvalidFields,
    Request,
    RequestValidationError,
)
from carboy.exceptions import dotted_field
from carboy.testing import TestClient


class Article(BaseModel):
    title: str = Field(min_length=1)
    tagList: list[str]


class NewArticle(BaseModel):
    article: Article


def test_field_error_has_the_full_location_and_a_dotted_field() -> None:
    error = FieldError(["body", "article", "tagList", 0], "Input should be a valid string")
    assert error == {
        "loc": ["body", "article", "tagList", 0],
        "field": "article.tagList.0",
        "msg": "Input should be a valid string",
        "type": "value_error",
    }
    assert (error.loc, error.field, error.msg, error.type) == (
        ["body", "article", "tagList", 0],
        "article.tagList.0",
        "Input should be a valid string",
        "value_error",
    )


@pytest.mark.parametrize(
    ("loc", "field"),
    [
        (["query", "page"], "page"),
        (["query", "ids", 2], "ids.2"),
        (["body"], "body"),
        ([], ""),
    ],
)
def test_dotted_field(loc: list[str | int], field: str) -> None:
    assert dotted_field(loc) == field


def test_a_nested_body_error_names_its_full_path() -> None:
    app = Carboy(debug=True)

    @app.post("/articles")
    async def create(data: NewArticle) -> str:
        return data.article.title

    with TestClient(app) as client:
        response = client.post("/articles", json={"article": {"title": "", "tagList": ["a", 7]}})
    assert response.status_code == 422
    assert [(e["loc"], e["field"], e["type"]) for e in response.json()["errors"]] == [
        (["body", "article", "title"], "article.title", "string_too_short"),
        (["body", "article", "tagList", 1], "article.tagList.1", "string_type"),
    ]


def test_every_4xx_with_field_errors_shares_one_base() -> None:
    errors = [FieldError(["query", "page"], "Must be positive", "greater_than")]
    invalid = RequestValidationError(errors)
    assert isinstance(invalid, InvalidFields) and isinstance(invalid, HTTPException)
    assert (invalid.status_code, invalid.message, invalid.errors) == (
        422,
        "Validation failed",
        errors,
    )
    assert invalid.detail == {"message": "Validation failed", "errors": errors}
    conflict = InvalidFields(409, "Taken", errors, {"x-why": "dup"})
    assert (conflict.status_code, conflict.message, conflict.headers) == (
        409,
        "Taken",
        {"x-why": "dup"},
    )


def test_one_handler_for_every_invalid_fields() -> None:
    app = Carboy(debug=True)

    @app.exception_handler(InvalidFields)
    async def fields_only(request: Request, exc: InvalidFields) -> dict[str, Any]:
        return {"bad": [e.field for e in exc.errors], "why": exc.message}

    @app.get("/conflict")
    async def conflict() -> None:
        raise InvalidFields(409, "Already taken", [FieldError(["body", "email"], "Taken")])

    @app.get("/page")
    async def page(n: int) -> int:
        return n

    with TestClient(app) as client:
        assert client.get("/conflict").json() == {"bad": ["email"], "why": "Already taken"}
        assert client.get("/conflict").status_code == 409
        assert client.get("/page?n=x").json() == {"bad": ["n"], "why": "Validation failed"}
