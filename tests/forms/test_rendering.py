"""Drawing forms: accessible markup, kept input, escaping, templates an app overrides."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, EmailStr, Field, SecretStr

from carboy import Carboy
from carboy.forms import (
    CheckboxSelectMultiple,
    Form,
    Forms,
    HiddenInput,
    RadioSelect,
    Textarea,
    TextInput,
)
from carboy.responses import HTMLResponse
from carboy.templating import render
from carboy.testing import TestClient
from tests.forms.conftest import ids, parse

XSS = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Profile(BaseModel):
    name: Annotated[
        str,
        Field(
            min_length=2, max_length=40, title="Full name", description="As you like to be called"
        ),
    ]
    email: EmailStr
    age: Annotated[int, Field(ge=18, le=120)] = 30
    ratio: float = 0.5
    price: Annotated[Decimal, Field(decimal_places=2, ge=0)] = Decimal("9.99")
    code: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "ABC"
    birthday: dt.date | None = None
    meeting: dt.datetime | None = None
    alarm: dt.time | None = None
    colour: Colour = Colour.RED
    size: Annotated[Literal["s", "m", "l"], RadioSelect()] = "m"
    colours: list[Colour] = []
    extras: Annotated[list[Literal["a", "b"]], CheckboxSelectMultiple()] = []
    password: SecretStr = SecretStr("")
    bio: Annotated[str, Textarea(rows=3)] = ""
    phone: Annotated[str, TextInput(input_type="tel", attrs={"autocomplete": "tel"})] = ""
    agree: bool = False
    token: Annotated[str, HiddenInput()] = "t0"


ProfileForm = Form[Profile]


def test_input_types_follow_the_python_types() -> None:
    page = parse(str(ProfileForm()))
    types = {e.attrs["name"]: e.attrs.get("type") for e in page.find_all("input")}
    assert types["name"] == "text"
    assert types["email"] == "email"
    assert types["age"] == "number" and types["ratio"] == "number" and types["price"] == "number"
    assert types["birthday"] == "date"
    assert types["meeting"] == "datetime-local"
    assert types["alarm"] == "time"
    assert types["password"] == "password"
    assert types["phone"] == "tel"
    assert types["agree"] == "checkbox"
    assert types["token"] == "hidden"
    assert types["size"] == "radio" and types["extras"] == "checkbox"
    assert page.by_id("id_colour").tag == "select"
    colours = page.by_id("id_colours")
    assert colours.tag == "select" and "multiple" in colours.attrs
    assert page.by_id("id_bio").tag == "textarea" and page.by_id("id_bio").attrs["rows"] == "3"


def test_constraints_become_html_attributes() -> None:
    page = parse(str(ProfileForm()))
    name = page.by_id("id_name")
    assert (name.attrs["minlength"], name.attrs["maxlength"]) == ("2", "40")
    assert "required" in name.attrs
    age = page.by_id("id_age")
    assert (age.attrs["min"], age.attrs["max"], age.attrs["step"]) == ("18", "120", "1")
    assert page.by_id("id_ratio").attrs["step"] == "any"
    assert page.by_id("id_price").attrs["step"] == "0.01"
    assert page.by_id("id_code").attrs["pattern"] == "[A-Z]{3}"
    assert "required" not in page.by_id("id_birthday").attrs  # optional
    assert page.by_id("id_phone").attrs["autocomplete"] == "tel"


def test_labels_help_and_errors_are_wired_for_assistive_technology() -> None:
    form = ProfileForm({"name": "A", "email": "nope"})
    html = str(form)
    page = parse(html)
    assert len(ids(html)) == len(set(ids(html)))  # no id twice
    # Every visible control has a label pointing at it (radio/checkbox groups: a legend).
    for control in page.find_all("input") + page.find_all("select") + page.find_all("textarea"):
        if control.attrs.get("type") == "hidden":
            continue
        assert page.find_all("label", for_=control.attrs["id"]), control.attrs["id"]
    name = page.by_id("id_name")
    assert name.attrs["aria-invalid"] == "true"
    assert name.attrs["aria-describedby"] == "id_name_help id_name_errors"
    assert page.by_id("id_name_help").text == "As you like to be called"
    assert "at least 2 characters" in page.by_id("id_name_errors").text
    assert page.find("label", for_="id_name").text == "Full name *"
    assert page.by_id("id_email").attrs["aria-describedby"] == "id_email_errors"
    assert "aria-invalid" not in page.by_id("id_age").attrs
    assert "aria-describedby" not in page.by_id("id_age").attrs
    # A radio group is a fieldset named by its legend, described by its errors.
    group = page.by_id("id_size")
    assert group.tag == "fieldset" and group.find("legend").text == "Size"


def test_a_radio_groups_errors_describe_the_group() -> None:
    page = parse(str(ProfileForm({"name": "Ada", "email": "a@example.com", "size": "xl"})))
    group = page.by_id("id_size")
    assert group.attrs["aria-describedby"] == "id_size_errors"
    assert all(r.attrs["aria-invalid"] == "true" for r in group.find_all("input"))


def test_submitted_input_is_kept_but_never_a_password() -> None:
    form = ProfileForm(
        {
            "name": "Ada",
            "email": "not-an-email",
            "age": "abc",
            "password": "hunter2",
            "bio": "line one\nline two",
            "colour": "green",
            "colours": ["red", "green"],
            "extras": ["b"],
            "size": "l",
            "agree": "true",
        }
    )
    assert not form.is_valid
    html = str(form)
    page = parse(html)
    assert page.by_id("id_email").attrs["value"] == "not-an-email"
    assert page.by_id("id_age").attrs["value"] == "abc"
    assert "value" not in page.by_id("id_password").attrs
    assert "hunter2" not in html
    assert page.by_id("id_bio").text == "line one line two"
    assert page.find("option", value="green").attrs.get("selected") is not None or "selected" in (
        page.by_id("id_colour").find("option", value="green").attrs
    )
    colours = page.by_id("id_colours")
    assert {o.attrs["value"] for o in colours.find_all("option") if "selected" in o.attrs} == {
        "red",
        "green",
    }
    assert (
        "checked" in page.by_id("id_extras_1").attrs
        and "checked" not in page.by_id("id_extras_0").attrs
    )
    assert "checked" in page.by_id("id_size_2").attrs
    assert "checked" in page.by_id("id_agree").attrs


def test_an_unbound_form_shows_initial_values_as_the_controls_write_them() -> None:
    form = ProfileForm(
        initial={
            "meeting": dt.datetime(2024, 5, 1, 9, 30),
            "alarm": dt.time(7, 15, 30),
            "birthday": dt.date(1990, 2, 3),
            "colour": Colour.GREEN,
        }
    )
    page = parse(str(form))
    assert page.by_id("id_meeting").attrs["value"] == "2024-05-01T09:30"
    assert page.by_id("id_alarm").attrs["value"] == "07:15:30"
    assert page.by_id("id_birthday").attrs["value"] == "1990-02-03"
    assert page.by_id("id_price").attrs["value"] == "9.99"
    assert "selected" in page.by_id("id_colour").find("option", value="green").attrs


@pytest.mark.parametrize("where", ["name", "bio", "colour", "token"])
def test_a_script_as_a_value_renders_as_text(where: str) -> None:
    html = str(ProfileForm({where: XSS}))
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html or "&#34;&gt;&lt;script&gt;" in html or where == "colour"


def test_a_script_in_an_error_label_help_or_choice_renders_as_text() -> None:
    class Hostile(BaseModel):
        name: Annotated[str, Field(title=XSS, description=XSS)]
        pick: Literal["<b>x</b>", "y"] = "y"

    class HostileForm(Form[Hostile]):
        def clean(self, data: Hostile) -> None:
            self.add_error("name", XSS)
            self.add_error(None, XSS)

    html = str(HostileForm({"name": "ok", "pick": "<b>x</b>"}))
    assert "<script>" not in html and "<img" not in html and "<b>x</b>" not in html
    assert html.count("&lt;script&gt;") >= 4


def test_readonly_fields_are_text_with_no_control() -> None:
    form = ProfileForm(
        initial={"name": "Ada", "email": "a@example.com", "colour": Colour.GREEN, "agree": True},
        readonly=("name", "colour", "agree"),
    )
    page = parse(str(form))
    assert page.by_id("id_name").tag == "div" and page.by_id("id_name").text == "Ada"
    assert page.by_id("id_colour").text == "Green"
    assert page.by_id("id_agree").text == "Yes"
    assert not page.find_all("input", name="name")
    assert page.by_id("id_email").tag == "input"


def test_fieldsets_group_fields_under_a_legend() -> None:
    class Grouped(Form[Profile]):
        fieldsets = [("About you", ["name", "email"]), ("Contact", ["phone"])]

    page = parse(str(Grouped()))
    legends = [f.find("legend").text for f in page.find_all("fieldset", **{"class": "fieldset"})]
    assert legends == ["About you", "Contact"]
    first = page.find_all("fieldset", **{"class": "fieldset"})[0]
    assert [e.attrs["name"] for e in first.find_all("input")] == ["name", "email"]
    # Fields left out of the fieldsets follow them.
    assert page.by_id("id_age_row").parent is page
    assert Grouped().grouped_fields()[-1].legend is None


def test_one_field_renders_alone_and_its_parts_are_reachable() -> None:
    form = ProfileForm()
    row = parse(str(form["email"]))
    assert row.by_id("id_email_row").find("label").text == "Email *"
    assert str(form["email"].widget_html()).startswith("<input")
    assert form["email"].html_name == "email" and form["email"].id == "id_email"
    with pytest.raises(KeyError, match="has no field 'mail'"):
        form["mail"]


class Comment(BaseModel):
    text: Annotated[str, Field(max_length=10)]


class CommentForm(Form[Comment]):
    pass


def test_templates_work_with_form_and_field_syntax_and_the_app_overrides_them(
    tmp_path: Path,
) -> None:
    templates = tmp_path / "templates"
    (templates / "forms").mkdir(parents=True)
    (templates / "page.html").write_text(
        '{% import "forms/macros.html" as forms with context %}'
        "<main>{{ forms.form(form, action='/c', submit='Post') }}</main>"
        "<aside>{{ form.text }}</aside>"
    )
    app = Carboy(debug=True, root=tmp_path)
    app.install(Forms())

    @app.post("/c")
    async def post(form: CommentForm) -> object:
        return render("page.html", {"form": form}, status_code=form.status_code)

    with TestClient(app) as client:
        response = client.post("/c", data={"text": "x" * 11})
        page = parse(response.text)
        form = page.find("form")
        assert form.attrs["method"] == "post" and form.attrs["action"] == "/c"
        assert form.find("button").text == "Post"
        assert "at most 10" in page.find("aside").text
        # No CSRF input unless the auth battery defines csrf_input().
        assert not form.find_all("input", type="hidden")
    # An app's own templates/forms/field.html replaces carboy's.
    (templates / "forms" / "field.html").write_text('<p class="mine">{{ field.label }}</p>')
    app.templates.env.cache.clear()  # type: ignore[union-attr]
    with TestClient(app) as client:
        assert '<p class="mine">Text</p>' in client.post("/c", data={"text": "x"}).text


def test_the_form_macro_writes_csrf_input_when_it_is_defined(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text(
        '{% import "forms/macros.html" as forms with context %}{{ forms.form(form) }}'
    )
    app = Carboy(debug=True, root=tmp_path)
    app.install(Forms())

    @app.context_processor
    def csrf(request: object) -> dict[str, object]:
        from markupsafe import Markup

        return {"csrf_input": lambda: Markup('<input type="hidden" name="csrf" value="tok">')}

    @app.get("/c")
    async def page(form: CommentForm) -> object:
        return render("page.html", {"form": form})

    with TestClient(app) as client:
        form = parse(client.get("/c").text).find("form")
        assert form.find("input", name="csrf").attrs["value"] == "tok"


def test_a_form_with_a_file_field_posts_multipart() -> None:
    from carboy.forms import UploadedFile

    class Resume(BaseModel):
        cv: UploadedFile | None = None

    assert Form[Resume]().enctype == "multipart/form-data"
    assert ProfileForm().enctype == "application/x-www-form-urlencoded"


def test_rendered_fragment_in_a_handler_response() -> None:
    app = Carboy(debug=True)
    app.install(Forms())

    @app.get("/f")
    async def fragment(form: CommentForm) -> HTMLResponse:
        return HTMLResponse(str(form["text"]))

    with TestClient(app) as client:
        assert parse(client.get("/f").text).by_id("id_text").attrs["maxlength"] == "10"
