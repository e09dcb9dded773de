"""Templates: loaders, autoescape, globals, context processors, blocks, responses."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import jinja2
import pytest

import carboy
from carboy.exceptions import ConfigurationError
from carboy.requests import Request
from carboy.templating import TemplateResponse, Templates, render
from carboy.types import Receive, Scope, Send


# -- helpers -------------------------------------------------------------------
class FakeApp:
    """Stands in for Carboy: ``templates`` and ``url_path_for`` are all render() uses."""

    def __init__(self, templates: Templates | None) -> None:
        self.templates = templates

    def url_path_for(self, name: str, /, **params: Any) -> str:
        if name == "static":
            return f"/static/{params['path']}"
        if name == "post":
            return f"/posts/{params['id']}"
        raise LookupError(f"No route named {name!r}")


def make_request(templates: Templates | None = None, headers: Mapping[str, str] = {}) -> Request:
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "app": FakeApp(templates),
    }
    return Request(scope)


def write(folder: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return write(
        tmp_path / "app",
        {
            "layout.html": (
                "<title>{% block title %}Site{% endblock %}</title>"
                "<main>{% block content %}{% endblock %}</main>"
                "<footer>{% block footer %}(c) {{ owner }}{% endblock %}</footer>"
            ),
            "page.html": (
                '{% extends "layout.html" %}'
                "{% block title %}{{ heading }} - {{ super() }}{% endblock %}"
                "{% block content %}<h1>{{ heading }}</h1>"
                "<ul>{% block items %}{% for i in items %}<li>{{ i }}</li>{% endfor %}"
                "{% endblock %}</ul>{% endblock %}"
            ),
            "sub.html": '{% extends "page.html" %}{% block items %}<li>only</li>{% endblock %}',
            "plain.html": "<p>{{ value }}</p><a title='{{ value }}' href=\"{{ value }}\">x</a>",
            "mail.txt": "Hello {{ value }}",
            "data.xml": "<v>{{ value }}</v>",
            "icon.svg": "<svg>{{ value }}</svg>",
            "part.jinja": "{{ value }}",
            "links.html": (
                "<a href=\"{{ url_for('post', id=post_id) }}\">post</a>"
                "<script src=\"{{ static('carboy/htmx.min.js') }}\"></script>"
            ),
            "who.html": "{{ user }}|{{ site }}|{{ request.method }}",
            "names.html": "{{ user }}|{{ site }}|{{ request is defined }}",
            "dynamic.html": "{% extends layout %}{% block content %}x{% endblock %}",
            "includes_missing.html": '{% include "nope.html" %}',
            "unicode.html": "<p>Ünïcödé ☕ {{ name }}</p>",
            "strict.html": "{{ missing }}",
            "block_error.html": "{% block b %}{{ 1 // zero }}{% endblock %}",
        },
    )


@pytest.fixture
def templates(app_dir: Path) -> Templates:
    return Templates([app_dir])


# -- autoescape -----------------------------------------------------------------
HOSTILE = '<script>alert("x")</script>\''
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&#39;"


def test_html_autoescapes_text_and_attributes(templates: Templates) -> None:
    out = templates.render_sync("plain.html", {"value": HOSTILE})
    assert out == f"<p>{ESCAPED}</p><a title='{ESCAPED}' href=\"{ESCAPED}\">x</a>"


@pytest.mark.parametrize("name", ["data.xml", "icon.svg", "part.jinja"])
def test_other_templates_autoescape(templates: Templates, name: str) -> None:
    assert ESCAPED in templates.render_sync(name, {"value": HOSTILE})
    assert "<script>" not in templates.render_sync(name, {"value": HOSTILE})


def test_plain_text_templates_do_not_escape(templates: Templates) -> None:
    assert templates.render_sync("mail.txt", {"value": HOSTILE}) == f"Hello {HOSTILE}"


def test_string_templates_autoescape(templates: Templates) -> None:
    assert templates.env.from_string("{{ v }}").render(v="<b>") == "&lt;b&gt;"


def test_markup_is_not_escaped_twice(templates: Templates) -> None:
    from markupsafe import Markup

    assert templates.render_sync("part.jinja", {"value": Markup("<b>ok</b>")}) == "<b>ok</b>"


# -- loaders ---------------------------------------------------------------------
def test_app_directory_overrides_module_directory(tmp_path: Path) -> None:
    app = write(tmp_path / "app", {"page.html": "app"})
    module = write(tmp_path / "module", {"page.html": "module", "only.html": "module only"})
    templates = Templates([app, module])
    assert templates.render_sync("page.html") == "app"
    assert templates.render_sync("only.html") == "module only"


def test_added_directory_has_lower_priority(tmp_path: Path) -> None:
    app = write(tmp_path / "app", {"page.html": "app"})
    module = write(tmp_path / "module", {"page.html": "module", "blog/list.html": "list"})
    templates = Templates([str(app)])
    with pytest.raises(jinja2.TemplateNotFound):
        templates.render_sync("blog/list.html")
    templates.add_directory(module)
    assert templates.render_sync("page.html") == "app"
    assert templates.render_sync("blog/list.html") == "list"


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = "carboy_testpkg_templates"
    root = tmp_path / "site"
    write(
        root,
        {
            f"{name}/__init__.py": "",
            f"{name}/templates/page.html": "package",
            f"{name}/templates/pkg_only.html": "from the package: {{ value }}",
            f"{name}/other/extra.html": "extra",
        },
    )
    monkeypatch.syspath_prepend(str(root))
    yield name
    sys.modules.pop(name, None)


def test_package_loader_after_directories(tmp_path: Path, package: str) -> None:
    app = write(tmp_path / "app", {"page.html": "app"})
    templates = Templates([app], packages=[(package, "templates")])
    assert templates.render_sync("page.html") == "app"
    assert templates.render_sync("pkg_only.html", {"value": "<i>"}) == "from the package: &lt;i&gt;"


def test_add_package(package: str) -> None:
    templates = Templates()
    templates.add_package(package, "other")
    assert templates.render_sync("extra.html") == "extra"


@pytest.mark.parametrize(
    ("pkg", "folder", "words"),
    [("carboy_no_such_package", "templates", "No module named"), ("carboy", "nope", "'nope'")],
)
def test_bad_package_is_a_configuration_error(pkg: str, folder: str, words: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Templates(packages=[(pkg, folder)])
    assert str(info.value).startswith(f"Cannot load templates from package {pkg!r}")
    assert words in str(info.value)
    with pytest.raises(ConfigurationError):
        Templates().add_package(pkg, folder)


def test_carboy_htmx_include(tmp_path: Path) -> None:
    app = write(tmp_path, {"base.html": '<head>{% include "carboy/htmx.html" %}</head>'})
    templates = Templates([app], packages=[("carboy", "templates")])
    assert templates.render_sync("base.html", request=make_request()) == (
        '<head><meta name="htmx-config" content=\'{"includeIndicatorStyles":false}\'>\n'
        '<link rel="stylesheet" href="/static/carboy/htmx.css">\n'
        '<script src="/static/carboy/htmx.min.js"></script></head>'
    )


def test_missing_template_lists_where_it_looked(tmp_path: Path, package: str) -> None:
    app = tmp_path / "app"
    templates = Templates([app], packages=[(package, "templates")])
    with pytest.raises(jinja2.TemplateNotFound) as info:
        templates.render_sync("nope.html")
    message = str(info.value)
    assert message.startswith("Template 'nope.html' not found; searched: ")
    assert str(app) in message
    assert f"package {package}/templates" in message


def test_missing_template_without_folders() -> None:
    with pytest.raises(jinja2.TemplateNotFound, match="no template folders are configured"):
        Templates().render_sync("a.html")


def test_missing_include_names_the_included_template(templates: Templates) -> None:
    with pytest.raises(jinja2.TemplateNotFound) as info:
        templates.render_sync("includes_missing.html")
    assert info.value.name == "nope.html"


# -- globals and undefined -----------------------------------------------------------
def test_url_for_and_static_in_a_template(templates: Templates) -> None:
    out = templates.render_sync("links.html", {"post_id": 7}, request=make_request())
    assert out == ('<a href="/posts/7">post</a><script src="/static/carboy/htmx.min.js"></script>')


@pytest.mark.parametrize("function", ["url_for", "static"])
def test_url_functions_without_request_say_what_to_do(templates: Templates, function: str) -> None:
    source = "{{ url_for('post', id=1) }}" if function == "url_for" else "{{ static('a.css') }}"
    template = templates.env.from_string(source)
    with pytest.raises(jinja2.TemplateRuntimeError) as info:
        template.render()
    assert str(info.value).startswith(f"{function}() in template None needs the request")
    assert "request=..." in str(info.value)


def test_url_for_unknown_route_error_propagates(templates: Templates) -> None:
    template = templates.env.from_string("{{ url_for('nope') }}")
    with pytest.raises(LookupError, match="No route named 'nope'"):
        template.render(request=make_request())


def test_extra_globals(app_dir: Path) -> None:
    templates = Templates([app_dir], globals={"site": "Carboy", "user": "anon"})
    assert templates.render_sync("who.html", request=make_request()) == "anon|Carboy|GET"


def test_default_undefined_renders_empty(templates: Templates) -> None:
    assert templates.render_sync("strict.html") == ""


def test_strict_undefined_can_be_chosen(app_dir: Path) -> None:
    templates = Templates([app_dir], undefined=jinja2.StrictUndefined)
    with pytest.raises(jinja2.UndefinedError, match="'missing' is undefined"):
        templates.render_sync("strict.html")


# -- context processors --------------------------------------------------------------
@pytest.mark.anyio
async def test_sync_and_async_context_processors(templates: Templates) -> None:
    seen: list[Request] = []

    @templates.context_processor
    def user(request: Request) -> dict[str, str]:
        seen.append(request)
        return {"user": "ada", "site": "from sync"}

    @templates.context_processor
    async def site(request: Request) -> dict[str, str]:
        return {"site": "from async"}

    assert user.__name__ == "user"  # the decorator returns the function itself
    request = make_request()
    out = await templates.render("who.html", request=request)
    assert out == "ada|from async|GET"
    assert seen == [request]


@pytest.mark.anyio
async def test_handler_context_wins_over_processors(templates: Templates) -> None:
    templates.context_processor(lambda request: {"user": "processor", "site": "s"})
    out = await templates.render("who.html", {"user": "handler"}, request=make_request())
    assert out == "handler|s|GET"


@pytest.mark.anyio
async def test_processors_skipped_without_request(templates: Templates) -> None:
    calls: list[Request] = []

    def record(request: Request) -> dict[str, str]:
        calls.append(request)
        return {}

    templates.context_processor(record)
    assert await templates.render("names.html", {"user": "u", "site": "s"}) == "u|s|False"
    assert calls == []


@pytest.mark.anyio
async def test_processor_returning_non_dict(templates: Templates) -> None:
    def broken(request: Request) -> Any:
        return ["user"]

    templates.context_processor(broken)
    with pytest.raises(TypeError, match=r"broken returned list; it must return a dict"):
        await templates.render("who.html", request=make_request())


def test_render_sync_runs_sync_processors(templates: Templates) -> None:
    templates.context_processor(lambda request: {"user": "sync", "site": "s"})
    assert templates.render_sync("who.html", request=make_request()) == "sync|s|GET"


def test_render_sync_refuses_async_processors(templates: Templates) -> None:
    @templates.context_processor
    async def needs_loop(request: Request) -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match=r"needs_loop is async .*`await templates.render"):
        templates.render_sync("who.html", request=make_request())


def test_render_sync_refuses_processor_returning_awaitable(templates: Templates) -> None:
    async def later() -> dict[str, str]:
        return {}

    def sneaky(request: Request) -> Any:
        return later()

    templates.context_processor(sneaky)
    with pytest.raises(RuntimeError, match="sneaky is async"):
        templates.render_sync("who.html", request=make_request())


# -- blocks (htmx partials) ------------------------------------------------------------
CTX = {"heading": "News", "items": ["a", "<b>"], "owner": "Ada"}


def test_full_page(templates: Templates) -> None:
    assert templates.render_sync("page.html", CTX) == (
        "<title>News - Site</title><main><h1>News</h1><ul><li>a</li><li>&lt;b&gt;</li></ul>"
        "</main><footer>(c) Ada</footer>"
    )


def test_block_defined_in_the_template(templates: Templates) -> None:
    assert templates.render_sync("page.html", CTX, block="items") == (
        "<li>a</li><li>&lt;b&gt;</li>"
    )


def test_block_containing_a_nested_block(templates: Templates) -> None:
    assert templates.render_sync("page.html", CTX, block="content") == (
        "<h1>News</h1><ul><li>a</li><li>&lt;b&gt;</li></ul>"
    )


def test_block_inherited_from_the_layout(templates: Templates) -> None:
    assert templates.render_sync("page.html", CTX, block="footer") == "(c) Ada"


def test_block_calling_super(templates: Templates) -> None:
    assert templates.render_sync("page.html", CTX, block="title") == "News - Site"


def test_blocks_across_three_levels(templates: Templates) -> None:
    assert templates.render_sync("sub.html", CTX, block="items") == "<li>only</li>"
    assert templates.render_sync("sub.html", CTX, block="content") == (
        "<h1>News</h1><ul><li>only</li></ul>"
    )
    assert templates.render_sync("sub.html", CTX, block="footer") == "(c) Ada"
    assert templates.render_sync("sub.html", CTX, block="title") == "News - Site"


def test_block_of_a_template_without_parent(templates: Templates) -> None:
    with pytest.raises(ZeroDivisionError):
        templates.render_sync("block_error.html", {"zero": 0}, block="b")
    assert templates.render_sync("block_error.html", {"zero": 1}, block="b") == "1"


def test_unknown_block_names_template_and_known_blocks(templates: Templates) -> None:
    with pytest.raises(LookupError) as info:
        templates.render_sync("page.html", CTX, block="sidebar")
    assert str(info.value) == (
        "Template 'page.html' has no block 'sidebar' (its blocks, including inherited "
        "ones: content, footer, items, title)"
    )


def test_unknown_block_in_template_without_blocks(templates: Templates) -> None:
    with pytest.raises(LookupError, match=r"has no block 'x' .*: none"):
        templates.render_sync("strict.html", block="x")


def test_block_of_computed_extends_is_refused(templates: Templates) -> None:
    assert templates.render_sync("dynamic.html", {"layout": "layout.html"}) == (
        "<title>Site</title><main>x</main><footer>(c) </footer>"
    )
    with pytest.raises(jinja2.TemplateRuntimeError, match="computed"):
        templates.render_sync("dynamic.html", {"layout": "layout.html"}, block="content")


def test_block_sees_top_level_imports_sets_and_macros(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        {
            "macros.html": "{% macro badge(x) %}<b>{{ x }}</b>{% endmacro %}",
            "base.html": (
                '{% from "macros.html" import badge %}{% set brand = "Carboy" %}'
                "<main>{% block body %}{% endblock %}</main>"
                "<nav>{% block nav %}{{ badge(brand) }}{% endblock %}</nav>"
            ),
            "child.html": (
                '{% extends "base.html" %}{% import "macros.html" as m %}'
                "{% set greeting = 'Hi ' ~ name %}{% macro shout(t) %}{{ t|upper }}{% endmacro %}"
                "{% block body %}{{ m.badge(greeting) }} {{ shout(brand) }}{% endblock %}"
            ),
        },
    )
    templates = Templates([folder])
    assert templates.render_sync("child.html", {"name": "<Ada>"}) == (
        "<main><b>Hi &lt;Ada&gt;</b> CARBOY</main><nav><b>Carboy</b></nav>"
    )
    assert templates.render_sync("child.html", {"name": "<Ada>"}, block="body") == (
        "<b>Hi &lt;Ada&gt;</b> CARBOY"
    )
    assert templates.render_sync("child.html", {"name": "x"}, block="nav") == "<b>Carboy</b>"


def test_block_of_cyclic_extends_is_refused(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        {
            "a.html": '{% extends "b.html" %}{% block x %}a{% endblock %}',
            "b.html": '{% extends "a.html" %}{% block y %}b{% endblock %}',
        },
    )
    with pytest.raises(jinja2.TemplateRuntimeError, match=r"more than 64 levels deep .*cycle"):
        Templates([folder]).render_sync("a.html", block="x")


def test_block_of_missing_layout(tmp_path: Path) -> None:
    folder = write(tmp_path, {"a.html": '{% extends "gone.html" %}{% block x %}a{% endblock %}'})
    with pytest.raises(jinja2.TemplateNotFound) as info:
        Templates([folder]).render_sync("a.html", block="x")
    assert info.value.name == "gone.html"


def test_block_errors_point_into_the_template(app_dir: Path) -> None:
    templates = Templates([app_dir], undefined=jinja2.StrictUndefined)
    with pytest.raises(jinja2.UndefinedError) as info:
        templates.render_sync("page.html", {"heading": "h"}, block="items")
    frames = [entry.path for entry in info.traceback]
    assert any(str(path).endswith("page.html") for path in frames)


def test_blocks_follow_edited_layouts_with_auto_reload(app_dir: Path) -> None:
    import os

    templates = Templates([app_dir], auto_reload=True)
    assert templates.render_sync("page.html", CTX, block="footer") == "(c) Ada"
    layout = app_dir / "layout.html"
    layout.write_text("{% block footer %}new {{ owner }}{% endblock %}", encoding="utf-8")
    stat = layout.stat()
    os.utime(layout, (stat.st_atime, stat.st_mtime + 5))
    assert templates.render_sync("page.html", CTX, block="footer") == "new Ada"


@pytest.mark.anyio
async def test_async_block_render_with_processors(templates: Templates) -> None:
    templates.context_processor(lambda request: {"owner": "processor"})
    out = await templates.render("page.html", CTX | {"owner": None}, request=make_request())
    assert out.endswith("<footer>(c) None</footer>")


# -- responses ------------------------------------------------------------------------
@pytest.mark.anyio
async def test_templates_response(templates: Templates) -> None:
    response = await templates.response(
        "page.html",
        CTX,
        request=make_request(),
        status_code=201,
        headers={"X-A": "1"},
        block="items",
    )
    assert response.status_code == 201
    assert response.body == b"<li>a</li><li>&lt;b&gt;</li>"
    assert response.headers["x-a"] == "1"
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-length"] == str(len(response.body))


def test_render_builds_a_lazy_response() -> None:
    response = render("post.html", {"post": 1}, block="body", status_code=202, headers={"X-B": "2"})
    assert isinstance(response, TemplateResponse)
    assert response.template == "post.html"
    assert response.context == {"post": 1}
    assert response.block == "body"
    assert response.status_code == 202
    assert response.headers["x-b"] == "2"
    assert "content-length" not in response.headers
    assert repr(response) == "<TemplateResponse 202 'post.html' block='body'>"


def asgi_app(
    templates: Templates | None,
    endpoint: Callable[[Request], TemplateResponse],
    default_headers: list[tuple[bytes, bytes]] | None = None,
) -> Callable[[Scope, Receive, Send], Any]:
    fake = FakeApp(templates)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = fake
        if default_headers:
            scope["carboy.headers"] = default_headers
        response = endpoint(Request(scope, receive))
        await response(scope, receive, send)

    return app


def client(app: Callable[[Scope, Receive, Send], Any]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.anyio
async def test_template_response_end_to_end(templates: Templates) -> None:
    templates.context_processor(lambda request: {"site": request.headers.get("x-site", "-")})

    def endpoint(request: Request) -> TemplateResponse:
        response = render("who.html", {"user": "<ada>"}, status_code=203, headers={"X-C": "3"})
        response.set_cookie("seen", "1")
        return response

    app = asgi_app(templates, endpoint, default_headers=[(b"x-frame-options", b"DENY")])
    async with client(app) as c:
        response = await c.get("/", headers={"X-Site": "carboy"})
    assert response.status_code == 203
    assert response.text == "&lt;ada&gt;|carboy|GET"
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-length"] == str(len(response.content))
    assert response.headers["x-c"] == "3"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["set-cookie"] == "seen=1; Path=/; HttpOnly; SameSite=Lax"


@pytest.mark.anyio
async def test_template_response_htmx_partial(templates: Templates) -> None:
    def endpoint(request: Request) -> TemplateResponse:
        if request.htmx:
            return render("page.html", CTX, block="items")
        return render("page.html", CTX)

    async with client(asgi_app(templates, endpoint)) as c:
        full = await c.get("/")
        partial = await c.get("/", headers={"HX-Request": "true"})
    assert full.text.startswith("<title>News - Site</title>")
    assert partial.text == "<li>a</li><li>&lt;b&gt;</li>"
    assert partial.headers["content-length"] == str(len(partial.content))


@pytest.mark.anyio
async def test_template_response_url_for(templates: Templates) -> None:
    async with client(asgi_app(templates, lambda r: render("links.html", {"post_id": 3}))) as c:
        response = await c.get("/")
    assert response.text == (
        '<a href="/posts/3">post</a><script src="/static/carboy/htmx.min.js"></script>'
    )


@pytest.mark.anyio
async def test_template_response_non_ascii(templates: Templates) -> None:
    app = asgi_app(templates, lambda r: render("unicode.html", {"name": "日本語 & ü"}))
    async with client(app) as c:
        response = await c.get("/")
    expected = "<p>Ünïcödé ☕ 日本語 &amp; ü</p>"
    assert response.content == expected.encode("utf-8")
    assert response.text == expected
    assert response.headers["content-length"] == str(len(expected.encode("utf-8")))


@pytest.mark.anyio
async def test_template_response_head_has_no_body(templates: Templates) -> None:
    app = asgi_app(templates, lambda r: render("unicode.html", {"name": "x"}))
    async with client(app) as c:
        response = await c.head("/")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len("<p>Ünïcödé ☕ x</p>".encode()))


@pytest.mark.anyio
async def test_template_response_204_has_no_length(templates: Templates) -> None:
    app = asgi_app(templates, lambda r: render("strict.html", status_code=204))
    async with client(app) as c:
        response = await c.get("/")
    assert response.status_code == 204
    assert "content-length" not in response.headers


@pytest.mark.anyio
async def test_template_response_without_app_templates() -> None:
    app = asgi_app(None, lambda r: render("page.html"))
    async with client(app) as c:
        with pytest.raises(ConfigurationError, match=r"Cannot render 'page.html': the app has no"):
            await c.get("/")


# -- vendored htmx ---------------------------------------------------------------------
def test_vendored_htmx_matches_its_version_note() -> None:
    folder = Path(carboy.__file__).parent / "static" / "carboy"
    script = (folder / "htmx.min.js").read_bytes()
    note = (folder / "VERSION").read_text(encoding="utf-8").splitlines()
    assert note[0].startswith("htmx.org 2.")
    assert note[2] == "sha256: " + hashlib.sha256(script).hexdigest()
    assert script.startswith(b"var htmx=function(){")
    assert "Zero-Clause BSD" in (folder / "htmx.LICENSE").read_text(encoding="utf-8")
