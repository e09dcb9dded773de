"""Server-rendered pages: home, a validated contact form, and an htmx search partial."""

from __future__ import annotations

from collections import deque
from typing import Annotated

from carboy import Form, Module, Query, Request
from carboy.templating import render

pages = Module("pages")

FRAMEWORKS = [
    ("carboy", "Starts as one file, grows into a whole project."),
    ("Django", "Batteries included, tied to its ORM."),
    ("Flask", "One file, plugins for everything else."),
    ("FastAPI", "Typed APIs on Starlette."),
    ("Litestar", "Typed APIs, many options."),
    ("Starlette", "The ASGI toolkit."),
]

#: The latest contact messages, at most 100 (a real site would store or mail them).
MESSAGES: deque[dict[str, str]] = deque(maxlen=100)


@pages.get("/")
async def home(request: Request, q: Annotated[str, Query(max_length=100)] = "") -> object:
    """The home page; with htmx it answers only the search results block."""
    found = [f for f in FRAMEWORKS if q.lower() in (f[0] + f[1]).lower()]
    context = {"frameworks": found, "q": q, "messages": MESSAGES}
    if request.htmx:
        return render("pages/home.html", context, block="results")
    return render("pages/home.html", context)


@pages.get("/contact")
async def contact_form() -> object:
    """The empty contact form."""
    return render("pages/contact.html", {"errors": {}, "values": {}})


@pages.post("/contact")
async def contact_send(
    name: Annotated[str, Form(max_length=100)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    message: Annotated[str, Form(max_length=2000)] = "",
) -> object:
    """Validate the form; show it again with errors, or thank the sender.

    Longer values than the form's ``maxlength`` are refused before this runs (422).
    """
    values = {"name": name.strip(), "email": email.strip(), "message": message.strip()}
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "Please tell us your name."
    if "@" not in values["email"] or len(values["email"]) > 254:
        errors["email"] = "Please enter a valid email address."
    if not 10 <= len(values["message"]) <= 2000:
        errors["message"] = "The message must be between 10 and 2000 characters."
    if errors:
        return render("pages/contact.html", {"errors": errors, "values": values}, status_code=422)
    MESSAGES.append(values)
    return render("pages/thanks.html", {"name": values["name"]})
