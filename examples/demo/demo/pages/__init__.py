"""Server-rendered pages: home, a validated contact form, and an htmx search partial."""

from __future__ import annotations

import enum
from collections import deque
from typing import Annotated

from pydantic import BaseModel, EmailStr, Field

from carboy import Module, Query, Request
from carboy.forms import Form, Storage, Textarea, Upload, UploadedImage
from carboy.responses import HTMLResponse
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


class Topic(enum.Enum):
    """What a message is about."""

    QUESTION = "question"
    BUG = "bug"
    PRAISE = "praise"


class Contact(BaseModel):
    """A message to the site's team: the model is the form's validation."""

    name: Annotated[str, Field(max_length=100, title="Name")]
    email: Annotated[EmailStr, Field(max_length=254, description="We answer to this address.")]
    topic: Topic = Topic.QUESTION
    message: Annotated[str, Textarea(rows=5), Field(min_length=10, max_length=2000)]
    screenshot: Annotated[
        UploadedImage | None,
        Upload(max_size=2_000_000),
        Field(description="Optional: a PNG, JPEG, GIF or WebP image up to 2 MB."),
    ] = None


class ContactForm(Form[Contact]):
    """The contact page's form, checked field by field as it is typed."""

    live_route = "pages.contact_check"


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
async def contact_form(form: ContactForm) -> object:
    """The empty contact form."""
    return render("pages/contact.html", {"form": form})


@pages.post("/contact")
async def contact_send(form: ContactForm, storage: Storage) -> object:
    """Validate the form; show it again with its errors (input kept), or thank the sender.

    The form comes validated: a value past its ``max_length``, an e-mail address
    that is not one, a screenshot that is not a PNG, JPEG, GIF or WebP image are
    errors next to their fields, and a body too big for the server redraws the
    form with a 413.
    """
    if not form.is_valid:
        return render("pages/contact.html", {"form": form}, status_code=form.status_code)
    data = form.data
    screenshot = await data.screenshot.asave(storage, "contact") if data.screenshot else ""
    MESSAGES.append(
        {
            "name": data.name,
            "email": data.email,
            "message": data.message,
            "topic": data.topic.value,
            "screenshot": screenshot,
        }
    )
    return render("pages/thanks.html", {"name": data.name, "screenshot": screenshot})


@pages.post("/contact/check", name="contact_check")
async def contact_check(form: ContactForm) -> HTMLResponse:
    """Check the one field being typed (htmx): its row, drawn again with its errors."""
    return form.live_response()
