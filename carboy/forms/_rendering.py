"""Which Jinja environment draws a form, and the small HTML helpers its templates use."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jinja2
from markupsafe import Markup, escape


@functools.cache
def default_environment() -> jinja2.Environment:
    """The environment of carboy.forms' own templates, for forms drawn outside an app.

    Made once; it holds only the package's templates (nothing of an app), so it
    is the same for every caller.
    """
    return jinja2.Environment(
        loader=jinja2.PackageLoader("carboy.forms", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def get_template(env: jinja2.Environment | None, name: str) -> jinja2.Template:
    """Template ``name`` from ``env`` (an app's, with its overrides), else from carboy.forms'."""
    if env is not None:
        try:
            return env.get_template(name)
        except jinja2.TemplateNotFound:
            pass  # an app without the Forms module installed: the package's own templates
    return default_environment().get_template(name)


def render(env: jinja2.Environment | None, name: str, context: Mapping[str, Any]) -> Markup:
    """Render template ``name`` to safe HTML."""
    return Markup(get_template(env, name).render(context))


def attributes(attrs: Mapping[str, Any]) -> Markup:
    """HTML attributes from a dict: values escaped, True as a bare name, False/None left out.

    Example:
        >>> str(attributes({"id": "id_q", "required": True, "value": '"><script>'}))
        ' id="id_q" required value="&#34;&gt;&lt;script&gt;"'
    """
    parts: list[str] = []
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        if value is True:
            parts.append(f" {name}")
        else:
            parts.append(f' {name}="{escape(str(value))}"')
    return Markup("".join(parts))
