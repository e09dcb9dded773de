"""Widgets: attribute names that cannot break out of a tag, and what each widget draws."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel

from carboy.forms import (
    CheckboxSelectMultiple,
    Form,
    PasswordInput,
    RadioSelect,
    Select,
    SelectMultiple,
    Textarea,
    TextInput,
    Widget,
)
from tests.forms.conftest import parse


@pytest.mark.parametrize("name", ['onclick="x"', "a b", "x>", "/", "", "a=b", "'q'", "data-x\x00"])
def test_attribute_names_that_could_break_the_tag_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a valid HTML attribute name"):
        Widget(attrs={name: "1"})


def test_attribute_values_are_escaped() -> None:
    class Search(BaseModel):
        q: Annotated[str, TextInput(attrs={"placeholder": '"><script>x</script>'})] = ""

    html = str(Form[Search]())
    assert "<script>" not in html
    assert parse(html).by_id("id_q").attrs["placeholder"] == '"><script>x</script>'


def test_the_flags_of_each_widget() -> None:
    assert Textarea(rows=3).template == "forms/widgets/textarea.html"
    assert PasswordInput().hides_value and PasswordInput().input_type == "password"
    assert Select().choices and not Select().multiple
    assert SelectMultiple().multiple and CheckboxSelectMultiple().multiple
    assert RadioSelect().input_type == "radio"
    custom = Widget(template="my/widget.html", attrs={"data-x": 1})
    assert custom.template == "my/widget.html" and custom.attrs == {"data-x": 1}
    assert "Widget(attrs=" in repr(custom)
