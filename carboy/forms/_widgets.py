"""Widgets: how one field is drawn in HTML, put in a field's ``Annotated`` metadata.

A field gets a widget from its type (``str`` a text input, ``bool`` a checkbox,
an ``Enum`` a select...); ``Annotated[str, Textarea(rows=8)]`` picks another.
Each widget names the template that draws it (``forms/widgets/input.html``...),
which an app overrides by putting a template of the same name in its own
``templates/`` folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: Attribute names a widget may be given: no spaces, quotes, ``=``, ``/`` or ``>``.
_ATTR_NAME = re.compile(r"^[a-zA-Z_:][-a-zA-Z0-9_:.]*$")


def check_attrs(attrs: Mapping[str, Any] | None) -> dict[str, Any]:
    """``attrs`` as a dict, each name checked so it cannot break out of the tag.

    Raises:
        ValueError: For a name that is not a plain HTML attribute name.
    """
    checked = dict(attrs or {})
    for name in checked:
        if not _ATTR_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid HTML attribute name")
    return checked


class Widget:
    """How a field is drawn: a template, an input type and extra attributes.

    Subclass it (or give ``template=``) for a widget of your own; the template
    gets ``field`` (the :class:`~carboy.forms.BoundField`) and ``widget``.

    Args:
        attrs: Extra HTML attributes (``{"class": "wide", "placeholder": "..."}``).
        template: The template that draws it.

    Example:
        >>> from typing import Annotated
        >>> from pydantic import BaseModel
        >>> class Search(BaseModel):
        ...     q: Annotated[str, Widget(attrs={"placeholder": "Search"})] = ""
    """

    template: str = "forms/widgets/input.html"
    #: The ``type`` of an ``<input>`` (None: the field's type decides).
    input_type: str | None = None
    #: Draws several values (a multiple select, checkboxes).
    multiple: bool = False
    #: Draws the field's choices.
    choices: bool = False
    #: The value is never written back into the page (passwords).
    hides_value: bool = False
    #: A field hidden from people (no label, no row).
    is_hidden: bool = False

    def __init__(
        self, *, attrs: Mapping[str, Any] | None = None, template: str | None = None
    ) -> None:
        self.attrs = check_attrs(attrs)
        if template is not None:
            self.template = template

    def __repr__(self) -> str:
        return f"{type(self).__name__}(attrs={self.attrs!r})"


class TextInput(Widget):
    """``<input type="text">``, or another text-like ``input_type`` (``"search"``, ``"tel"``).

    Example:
        >>> TextInput(input_type="tel").input_type
        'tel'
    """

    def __init__(
        self,
        *,
        input_type: str = "text",
        attrs: Mapping[str, Any] | None = None,
        template: str | None = None,
    ) -> None:
        super().__init__(attrs=attrs, template=template)
        self.input_type = input_type


class Textarea(Widget):
    """A ``<textarea>`` of ``rows`` lines.

    Example:
        >>> Textarea(rows=8).attrs
        {'rows': 8}
    """

    template = "forms/widgets/textarea.html"

    def __init__(
        self, *, rows: int = 5, attrs: Mapping[str, Any] | None = None, template: str | None = None
    ) -> None:
        super().__init__(attrs={"rows": rows, **(attrs or {})}, template=template)


class PasswordInput(Widget):
    """``<input type="password">``: what was typed is never sent back in the page.

    Example:
        >>> PasswordInput().hides_value
        True
    """

    input_type = "password"
    hides_value = True


class HiddenInput(Widget):
    """``<input type="hidden">``: no label, no help; its errors show at the top of the form.

    Example:
        >>> HiddenInput().is_hidden
        True
    """

    input_type = "hidden"
    is_hidden = True


class Checkbox(Widget):
    """One ``<input type="checkbox">`` for a ``bool``; unticked is False.

    Example:
        >>> Checkbox().input_type
        'checkbox'
    """

    template = "forms/widgets/checkbox.html"
    input_type = "checkbox"


class Select(Widget):
    """A ``<select>`` of the field's choices (an ``Enum``, a ``Literal``, a foreign key).

    Example:
        >>> Select().choices
        True
    """

    template = "forms/widgets/select.html"
    choices = True


class SelectMultiple(Select):
    """A ``<select multiple>`` for a ``list`` of choices.

    Example:
        >>> SelectMultiple().multiple
        True
    """

    multiple = True


class RadioSelect(Widget):
    """One radio button per choice, in a ``<fieldset>`` whose legend is the label.

    Example:
        >>> RadioSelect().template
        'forms/widgets/radio.html'
    """

    template = "forms/widgets/radio.html"
    input_type = "radio"
    choices = True


class CheckboxSelectMultiple(RadioSelect):
    """One checkbox per choice, for a ``list`` of choices.

    Example:
        >>> CheckboxSelectMultiple().input_type
        'checkbox'
    """

    input_type = "checkbox"
    multiple = True


class FileInput(Widget):
    """``<input type="file">``; ``accept`` comes from the field's allowed content types.

    Example:
        >>> FileInput().input_type
        'file'
    """

    input_type = "file"
    hides_value = True
