"""Forms: binding what a browser sends, validation by the model, errors, and requests."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, EmailStr, Field, field_validator, model_validator

from carboy import Carboy, Request
from carboy.forms import FORM_ERRORS, Form, Forms, HiddenInput, PasswordInput
from carboy.responses import HTMLResponse
from carboy.settings import Settings
from carboy.testing import TestClient
from tests.forms.conftest import parse


class Topic(enum.Enum):
    GENERAL = "general"
    BILLING = "billing"


class Signup(BaseModel):
    name: Annotated[str, Field(max_length=20)]
    email: EmailStr
    age: Annotated[int | None, Field(ge=0, le=150)] = None
    budget: Annotated[Decimal, Field(decimal_places=2)] = Decimal("0")
    topic: Topic = Topic.GENERAL
    size: Literal[1, 2, 3] = 2
    tags: list[Topic] = []
    starts: dt.date | None = None
    newsletter: bool = False
    password: Annotated[str, PasswordInput()] = ""
    confirm: Annotated[str, PasswordInput()] = ""

    @field_validator("name")
    @classmethod
    def no_admin(cls, value: str) -> str:
        if value.lower() == "admin":
            raise ValueError("That name is reserved")
        return value

    @model_validator(mode="after")
    def passwords_match(self) -> Signup:
        if self.password != self.confirm:
            raise ValueError("The passwords do not match")
        return self


SignupForm = Form[Signup]
GOOD = {"name": "Ada", "email": "ada@example.com"}


def test_a_valid_form_gives_the_model_with_typed_values() -> None:
    form = SignupForm(
        {
            **GOOD,
            "age": "36",
            "budget": "12.50",
            "topic": "billing",
            "size": "3",
            "tags": ["general", "billing"],
            "starts": "2024-05-01",
            "newsletter": "true",
        }
    )
    assert form.is_bound and form.is_valid and form.errors == {}
    data = form.data
    assert isinstance(data, Signup)
    assert (data.age, data.budget, data.topic, data.size) == (
        36,
        Decimal("12.50"),
        Topic.BILLING,
        3,
    )
    assert data.tags == [Topic.GENERAL, Topic.BILLING]
    assert data.starts == dt.date(2024, 5, 1)
    assert data.newsletter is True
    assert form.status_code == 200


def test_form_of_a_model_is_one_class_that_can_be_subclassed() -> None:
    assert Form[Signup] is SignupForm
    assert issubclass(SignupForm, Form)

    class Styled(Form[Signup]):
        labels = {"name": "Your name"}

    assert Styled.schema is Signup
    assert Styled()["name"].label == "Your name"


def test_errors_per_field_and_form_wide() -> None:
    form = SignupForm(
        {
            "name": "admin",
            "email": "nope",
            "age": "-1",
            "topic": "other",
            "password": "a",
            "confirm": "b",
        }
    )
    assert not form.is_valid
    assert form.errors["name"] == ["That name is reserved"]
    assert form.errors["email"][0].startswith("value is not a valid email address")
    assert form.errors["age"] == ["Input should be greater than or equal to 0"]
    assert "topic" in form.errors
    # The model's cross-field check runs only once the fields are valid.
    assert FORM_ERRORS not in form.errors
    form = SignupForm({**GOOD, "password": "a", "confirm": "b"})
    assert form.errors == {FORM_ERRORS: ["The passwords do not match"]}
    assert form.form_errors == ["The passwords do not match"]
    assert form.status_code == 422
    with pytest.raises(ValueError, match=r"form is not valid; check form.is_valid first"):
        _ = form.data


def test_an_empty_input_is_no_value() -> None:
    form = SignupForm({"name": "  ", "email": "", "age": "", "starts": ""})
    assert form.errors == {
        "name": ["This field is required."],
        "email": ["This field is required."],
    }
    form = SignupForm({**GOOD, "age": "", "starts": "", "name": "  Ada  "})
    assert form.is_valid
    assert (form.data.age, form.data.starts, form.data.name) == (None, None, "Ada")


def test_an_unticked_checkbox_is_false_and_a_missing_list_is_empty() -> None:
    form = SignupForm(GOOD)
    assert form.is_valid
    assert form.data.newsletter is False and form.data.tags == []
    assert SignupForm({**GOOD, "newsletter": "false"}).data.newsletter is False


def test_an_unbound_form_has_no_errors_and_no_data() -> None:
    form = SignupForm()
    assert not form.is_bound and not form.is_valid and form.errors == {}
    with pytest.raises(ValueError, match="not bound to any data"):
        _ = form.data


def test_add_error_and_the_clean_hook() -> None:
    class NoGmail(Form[Signup]):
        def clean(self, data: Any) -> None:
            if data.email.endswith("@gmail.com"):
                self.add_error("email", "Use your work address")

    form = NoGmail({**GOOD, "email": "ada@gmail.com"})
    assert not form.is_valid and form.errors == {"email": ["Use your work address"]}
    form = SignupForm(GOOD)
    assert form.is_valid
    form.add_error(None, "Sign-ups are closed")
    assert not form.is_valid and form.form_errors == ["Sign-ups are closed"]
    with pytest.raises(KeyError, match="has no field 'nope'"):
        form.add_error("nope", "x")


def test_error_list_has_carboys_field_error_shape() -> None:
    form = SignupForm({"name": "Ada"})
    assert form.error_list() == [
        {
            "loc": ["form", "email"],
            "field": "email",
            "msg": "This field is required.",
            "type": "value_error",
        }
    ]


# -- hostile input ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("age", "abc"),
        ("age", "1e309"),
        ("age", str(10**400)),
        ("budget", "NaN-ish"),
        ("budget", "1.234"),
        ("budget", "1" * 5000 + ".001"),
        ("starts", "2024-13-45"),
        ("starts", "\x00"),
        ("topic", "<script>"),
        ("size", "4"),
        ("tags", "nope"),
        ("email", "a@" + "b" * 300 + ".com"),
    ],
)
def test_wrong_types_are_field_errors_never_exceptions(field: str, value: str) -> None:
    form = SignupForm({**GOOD, field: value})
    assert not form.is_valid
    assert list(form.errors) == [field]
    assert form.status_code == 422
    str(form)  # and the form draws again with them


def test_unknown_and_deeply_nested_keys_are_ignored() -> None:
    nested = "a" + "[b]" * 2000
    form = SignupForm({**GOOD, nested: "1", "name[0][1]": "x", "__class__": "y", "schema": "z"})
    assert form.is_valid and form.data.name == "Ada"


def test_several_values_for_a_single_field_take_the_last() -> None:
    assert SignupForm({**GOOD, "name": ["Eve", "Ada"]}).data.name == "Ada"


def test_a_value_over_max_length_is_refused_and_kept_for_the_page() -> None:
    form = SignupForm({**GOOD, "name": "x" * 21})
    assert form.errors == {"name": ["String should have at most 20 characters"]}
    assert parse(str(form)).by_id("id_name").attrs["value"] == "x" * 21


def test_nested_models_and_dicts_cannot_be_form_fields() -> None:
    class Address(BaseModel):
        city: str

    class Person(BaseModel):
        address: Address

    class Bag(BaseModel):
        extra: dict[str, str]

    with pytest.raises(TypeError, match=r"Person: Field 'address' is a nested model"):
        Form[Person]
    with pytest.raises(TypeError, match=r"Field 'extra' is a dict"):
        Form[Bag]


def test_options_naming_unknown_fields_fail_when_the_class_is_made() -> None:
    with pytest.raises(TypeError, match=r"readonly_fields names 'nmae'"):

        class Typo(Form[Signup]):
            readonly_fields = ("nmae",)

    with pytest.raises(TypeError, match=r"fieldsets names 'x'"):

        class Typo2(Form[Signup]):
            fieldsets = [("About", ["name", "x"])]


def test_a_prefix_must_be_plain() -> None:
    assert SignupForm({"s-name": "Ada", "s-email": "a@example.com"}, prefix="s").is_valid
    with pytest.raises(ValueError, match="prefix"):
        SignupForm(prefix='x" onclick="')


def test_readonly_fields_keep_their_initial_value_whatever_is_posted() -> None:
    class Locked(Form[Signup]):
        readonly_fields = ("email",)

    form = Locked(
        {"name": "Ada", "email": "evil@example.com"}, initial={"email": "ada@example.com"}
    )
    assert form.is_valid and form.data.email == "ada@example.com"
    everything = SignupForm({"name": "Eve"}, initial=GOOD, readonly=True)
    assert everything.is_valid and everything.data.name == "Ada"


# -- from a request ------------------------------------------------------------------
saved: list[str] = []


class ContactForm(Form[Signup]):
    live_route = "check"


def _app(**settings: Any) -> Carboy:
    app = Carboy(Settings(debug=True, **settings))
    app.install(Forms())

    @app.get("/signup")
    async def page(form: ContactForm) -> HTMLResponse:
        return HTMLResponse(str(form), status_code=form.status_code)

    @app.post("/signup")
    async def submit(form: ContactForm, again: ContactForm) -> HTMLResponse:
        assert form is again  # one form per request, however many parameters ask
        if form.is_valid:
            saved.append(form.data.name)
            return HTMLResponse("saved")
        return HTMLResponse(str(form), status_code=form.status_code)

    @app.post("/check", name="check")
    async def check(form: ContactForm) -> HTMLResponse:
        return form.live_response()

    @app.post("/explicit")
    async def explicit(request: Request) -> HTMLResponse:
        form = await SignupForm.from_request(request, prefix="s")
        return HTMLResponse("ok" if form.is_valid else str(form), status_code=form.status_code)

    return app


def test_injected_form_is_unbound_on_get_and_bound_on_post() -> None:
    saved.clear()
    with TestClient(_app()) as client:
        page = client.get("/signup")
        assert page.status_code == 200 and 'name="email"' in page.text
        bad = client.post("/signup", data={"name": "Ada", "email": "nope"})
        assert bad.status_code == 422
        row = parse(bad.text).by_id("id_email_row")
        assert "valid email" in row.text
        ok = client.post("/signup", data=GOOD)
        assert ok.text == "saved"
        explicit = client.post("/explicit", data={"s-name": "Ada", "s-email": "a@example.com"})
        assert explicit.text == "ok"
    assert saved == ["Ada"]


@pytest.mark.parametrize(
    ("settings", "body", "headers", "status", "says"),
    [
        (
            {"form_max_fields": 3},
            "a=1&b=2&c=3&d=4",
            "application/x-www-form-urlencoded",
            413,
            "Too many fields",
        ),
        (
            {"form_max_field_size": 100},
            "name=" + "x" * 200,
            "application/x-www-form-urlencoded",
            413,
            "exceeds 100 bytes",
        ),
        (
            {"max_body_size": 1000},
            "name=" + "x" * 2000,
            "application/x-www-form-urlencoded",
            413,
            "Request body exceeds",
        ),
        ({}, '{"name": "Ada"}', "application/json", 415, "not sent as a form"),
        ({}, "--x\r\nbroken", "multipart/form-data; boundary=x", 400, "could not be read"),
        (
            {},
            b"name=\xff\xfe".decode("latin-1"),
            "application/x-www-form-urlencoded",
            400,
            "not valid UTF-8",
        ),
    ],
)
def test_a_body_the_parser_refuses_redraws_the_form_with_a_4xx_and_saves_nothing(
    settings: dict[str, Any], body: str, headers: str, status: int, says: str
) -> None:
    saved.clear()
    with TestClient(_app(**settings)) as client:
        response = client.post(
            "/signup", content=body.encode("latin-1"), headers={"content-type": headers}
        )
    assert response.status_code == status
    alert = parse(response.text).find("div", role="alert")
    assert says in alert.text and "Nothing was saved" in alert.text
    assert 'name="email"' in response.text  # the form is drawn again
    assert saved == []


class Search(BaseModel):
    q: Annotated[str, Field(min_length=2)]
    page: int = 1


class SearchForm(Form[Search]):
    method = "get"


def test_a_get_form_binds_to_the_query_string() -> None:
    app = Carboy(debug=True)
    app.install(Forms())

    @app.get("/search")
    async def search(form: SearchForm) -> dict[str, Any]:
        return {"bound": form.is_bound, "valid": form.is_valid, "errors": form.errors}

    with TestClient(app) as client:
        assert client.get("/search").json() == {"bound": False, "valid": False, "errors": {}}
        assert client.get("/search?q=du&page=2").json()["valid"] is True
        assert client.get("/search?q=d").json()["errors"] == {
            "q": ["String should have at least 2 characters"]
        }


def test_live_validation_answers_with_the_one_fields_row() -> None:
    with TestClient(_app()) as client:
        page = parse(client.get("/signup").text)
        name = page.by_id("id_name")
        assert name.attrs["hx-post"] == "/check"
        assert name.attrs["hx-target"] == "#id_name_row"
        assert name.attrs["hx-include"] == "closest form"
        assert "hx-post" not in page.by_id("id_password").attrs  # what is typed stays put
        response = client.post(
            "/check",
            data={"name": "x" * 30, "email": ""},
            headers={"HX-Request": "true", "HX-Trigger-Name": "name"},
        )
        assert response.status_code == 200
        row = parse(response.text)
        assert [e.attrs["id"] for e in row.iter() if e.tag == "div"] == ["id_name_row"]
        assert row.by_id("id_name").attrs["aria-invalid"] == "true"
        assert "at most 20 characters" in row.by_id("id_name_errors").text
        assert "email" not in response.text  # other fields' errors are not drawn
        unknown = client.post("/check", data={}, headers={"HX-Trigger-Name": "nope"})
        assert unknown.status_code == 400


def test_a_hidden_fields_errors_show_at_the_top() -> None:
    class Ticket(BaseModel):
        token: Annotated[int, HiddenInput()]

    form = Form[Ticket]({"token": "forged"})
    assert form.form_errors == [
        "Token: Input should be a valid integer, unable to parse string as an integer"
    ]
    assert "Token:" in parse(str(form)).find("div", role="alert").text
