"""EmailMessage: checked addresses and headers, the MIME it becomes."""

from __future__ import annotations

import email
import email.policy

import pytest

from carboy.mail import Attachment, EmailMessage


def test_to_mime_has_the_headers_and_leaves_bcc_out() -> None:
    msg = EmailMessage(
        "Hello",
        "Plain body",
        to=["Ann <ann@example.com>", "bob@example.com"],
        from_email="Shop <shop@example.com>",
        cc=["carl@example.com"],
        bcc=["secret@example.com"],
        reply_to=["help@example.com"],
        headers={"X-Campaign": "spring"},
    )
    mime = msg.to_mime()
    assert mime["Subject"] == "Hello"
    assert mime["From"] == "Shop <shop@example.com>"
    assert mime["To"] == "Ann <ann@example.com>, bob@example.com"
    assert mime["Cc"] == "carl@example.com"
    assert mime["Reply-To"] == "help@example.com"
    assert mime["X-Campaign"] == "spring"
    assert mime["Bcc"] is None
    assert "secret@example.com" not in mime.as_string()
    assert mime["Message-ID"].endswith("@example.com>")
    assert mime["Date"]
    assert msg.recipients() == [
        "Ann <ann@example.com>",
        "bob@example.com",
        "carl@example.com",
        "secret@example.com",
    ]


def test_default_from_is_used_when_the_message_names_no_sender() -> None:
    mime = EmailMessage("Hi", "x", to=["ann@example.com"]).to_mime("noreply@shop.example")
    assert mime["From"] == "noreply@shop.example"


def test_html_alternative_and_attachments() -> None:
    msg = EmailMessage(
        "Report",
        "See the HTML.",
        to=["ann@example.com"],
        html="<p>Hi <b>Ann</b></p>",
        attachments=[Attachment("r.csv", b"a,b\n1,2\n", "text/csv"), Attachment("x.bin", b"\0")],
    )
    parsed = email.message_from_bytes(msg.to_mime().as_bytes(), policy=email.policy.default)
    types = [part.get_content_type() for part in parsed.walk()]
    assert types == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/csv",
        "application/octet-stream",
    ]
    files = {p.get_filename(): p.get_payload(decode=True) for p in parsed.iter_attachments()}
    assert files == {"r.csv": b"a,b\n1,2\n", "x.bin": b"\0"}


def test_non_ascii_subject_and_body_survive() -> None:
    msg = EmailMessage("Grüße ✓", "Schöne Grüße", to=["ann@example.com"])
    parsed = email.message_from_bytes(msg.to_mime().as_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "Grüße ✓"
    assert parsed.get_content().strip() == "Schöne Grüße"


@pytest.mark.parametrize(
    "subject", ["Hi\nBcc: evil@evil.example", "Hi\r\nBcc: evil@evil.example", "Hi\rX: y"]
)
def test_a_line_break_in_the_subject_is_refused(subject: str) -> None:
    with pytest.raises(ValueError, match="subject contains a line break"):
        EmailMessage(subject, "x", to=["ann@example.com"])


@pytest.mark.parametrize(
    "address",
    [
        "ann@example.com\nBcc: evil@evil.example",
        "ann@example.com, evil@evil.example",
        "not-an-address",
        "ann@",
        "@example.com",
        "a b@example.com",
        "",
        "<>",
        "ann@example.com>evil@evil.example",
    ],
)
@pytest.mark.parametrize("field", ["to", "cc", "bcc", "reply_to"])
def test_hostile_addresses_are_refused(field: str, address: str) -> None:
    others = {} if field in ("to", "cc", "bcc") else {"to": ["ann@example.com"]}
    with pytest.raises(ValueError, match=f"EmailMessage {field}"):
        EmailMessage("Hi", "x", **{field: [address]}, **others)  # type: ignore[arg-type]


def test_a_hostile_sender_is_refused() -> None:
    with pytest.raises(ValueError, match="from_email"):
        EmailMessage("Hi", "x", to=["ann@example.com"], from_email="a@b.c\nBcc: e@e.example")


def test_a_string_instead_of_a_list_is_refused() -> None:
    with pytest.raises(TypeError, match=r"to= takes a list of addresses, got 'ann@example.com'"):
        EmailMessage("Hi", "x", to="ann@example.com")  # type: ignore[arg-type]


def test_no_recipients_is_refused() -> None:
    with pytest.raises(ValueError, match="no recipients"):
        EmailMessage("Hi", "x")


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        ({"X-A": "1\nBcc: e@evil.example"}, "line break"),
        ({"X A": "1"}, "not a valid header name"),
        ({"X:A": "1"}, "not a valid header name"),
        ({"": "1"}, "not a valid header name"),
        ({"Bcc": "e@evil.example"}, "set by the message itself"),
        ({"subject": "other"}, "set by the message itself"),
    ],
)
def test_bad_extra_headers_are_refused(headers: dict[str, str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        EmailMessage("Hi", "x", to=["ann@example.com"], headers=headers)


def test_the_message_is_a_value() -> None:
    to = ["ann@example.com"]
    msg = EmailMessage("Hi", "x", to=to)
    to.append("evil@evil.example")
    assert msg.to == ("ann@example.com",)
    assert msg == EmailMessage("Hi", "x", to=("ann@example.com",))


def test_validate_email() -> None:
    from carboy.mail import validate_email

    assert validate_email(" ann@example.com ") == "ann@example.com"
    assert validate_email("Ann <ann@example.com>") == "ann@example.com"
    for bad in ("", "ann", "ann@", "a@b.c, e@evil.example", "a@b.c\nBcc: e@x.y", "a" * 321):
        with pytest.raises(ValueError, match="is not one e-mail address"):
            validate_email(bad)
