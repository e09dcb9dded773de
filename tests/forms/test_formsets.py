"""Formsets: row counts a client cannot inflate, blank extras, deletes, model saves."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import select

from carboy.db import Database
from carboy.forms import Form, FormSet, model_form
from tests.forms.conftest import parse
from tests.forms.test_model import Post, db  # noqa: F401  (fixture)


class Line(BaseModel):
    sku: str
    quantity: int = 1


LineForm = Form[Line]


def counts(total: int | str, initial: int | str = 0) -> dict[str, str]:
    return {"line-TOTAL_FORMS": str(total), "line-INITIAL_FORMS": str(initial)}


def test_an_unbound_formset_draws_initial_and_extra_forms() -> None:
    rows = FormSet(LineForm, prefix="line", initial=[{"sku": "A"}], extra=2)
    assert len(rows) == 3 and not rows.is_bound and not rows.is_valid
    page = parse(str(rows))
    assert page.find("input", name="line-TOTAL_FORMS").attrs["value"] == "3"
    assert page.find("input", name="line-INITIAL_FORMS").attrs["value"] == "1"
    assert page.by_id("id_line-0-sku").attrs["value"] == "A"
    assert page.by_id("id_line-2-quantity").attrs["value"] == "1"


def test_blank_extra_forms_are_skipped_and_errors_are_per_form() -> None:
    data = {
        **counts(3),
        "line-0-sku": "A",
        "line-0-quantity": "2",
        "line-1-sku": "",
        "line-1-quantity": "1",
        "line-2-quantity": "lots",
        "line-2-sku": "B",
    }
    rows = FormSet(LineForm, data, prefix="line")
    assert not rows.is_valid and rows.status_code == 422
    assert rows.errors[0] == {} and rows.errors[1] == {}
    assert "quantity" in rows.errors[2]
    rows = FormSet(LineForm, {**data, "line-2-quantity": "4"}, prefix="line")
    assert rows.is_valid and [f.data.sku for f in rows.active_forms] == ["A", "B"]


def test_row_counts_cannot_be_inflated_or_forged() -> None:
    flood = FormSet(LineForm, counts(10**8), prefix="line", max_num=5)
    assert len(flood.forms) == 5 and not flood.is_valid
    assert flood.non_form_errors == ["Send at most 5 rows."]
    for bad in ("-1", "1e9", "", "x", "9" * 50):
        broken = FormSet(LineForm, counts(bad), prefix="line")
        assert broken.forms == [] and not broken.is_valid
        assert "row counts are missing or damaged" in broken.non_form_errors[0]
    few = FormSet(LineForm, counts(0), prefix="line", min_num=1)
    assert not few.is_valid and few.non_form_errors == ["Send at least 1 rows."]


def test_model_formset_saves_updates_creates_and_deletes_together(db: Database) -> None:  # noqa: F811
    # An inline formset: the parent's key is not a field, asave() sets it on new rows.
    RowForm = model_form(Post, include=["title", "slug"])
    with db.transaction() as session:
        session.add_all(
            [
                Post(title="One", slug="one", category_id=1),
                Post(title="Two", slug="two", category_id=1),
            ]
        )
    with db.transaction() as session:
        existing = list(session.scalars(select(Post).order_by(Post.id)))
        data = {
            "row-TOTAL_FORMS": "3",
            "row-INITIAL_FORMS": "2",
            "row-0-title": "One!",
            "row-0-slug": "one",
            "row-0-category_id": "1",
            "row-0-version": "1",
            "row-1-title": "Two",
            "row-1-slug": "two",
            "row-1-category_id": "1",
            "row-1-version": "1",
            "row-1-DELETE": "true",
            "row-2-title": "Three",
            "row-2-slug": "three",
        }
        rows = FormSet(RowForm, data, prefix="row", instances=existing, can_delete=True)
        for form in rows:
            form.load(session)
        assert [f.prefix for f in rows.deleted_forms] == ["row-1"]
        saved = rows.save(session, category_id=2)
        assert saved is not None and [p.title for p in saved] == ["One!", "Three"]
    with db.session() as session:
        found = [(p.title, p.category_id) for p in session.scalars(select(Post).order_by(Post.id))]
    assert found == [("One!", 1), ("Three", 2)]


def test_a_refused_row_saves_none_of_them(db: Database) -> None:  # noqa: F811
    RowForm = model_form(Post, include=["title", "slug", "category_id"])
    with db.transaction() as session:
        data = {
            "row-TOTAL_FORMS": "2",
            "row-INITIAL_FORMS": "0",
            "row-0-title": "A",
            "row-0-slug": "same",
            "row-0-category_id": "1",
            "row-1-title": "B",
            "row-1-slug": "same",
            "row-1-category_id": "1",
        }
        rows = FormSet(RowForm, data, prefix="row")
        assert rows.save(session) is None
        assert "slug" in rows.forms[1].errors
    with db.session() as session:
        assert list(session.scalars(select(Post))) == []
