"""Uploaded files and images: limits, content sniffing, Pillow checks and safe names.

A form field typed :class:`UploadedFile` or :class:`UploadedImage` gets the
file only once it passed its :class:`Upload` limits: its size, its content
type as read from its first bytes (the client's ``Content-Type`` and file
name are never trusted), and for images a full check by Pillow. The checked
file is saved under a generated name (``uploads/3f9c...e1.png``), never the
client's.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from pydantic_core import core_schema

from carboy.datastructures import UploadFile

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler

    from carboy.forms._storage import Storage

#: Bytes read from the start of a file to tell its type.
SNIFF_BYTES = 8192

#: The content types an image field takes unless its ``Upload`` says otherwise.
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")

#: The file extension a stored file gets, by its sniffed content type. A type not
#: listed is stored as ``.bin``, so no upload is ever served as HTML or script.
EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/tiff": ".tiff",
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "application/gzip": ".gz",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "audio/mpeg": ".mp3",
    "audio/ogg": ".ogg",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
}

#: Pillow's format names for the image types.
_PIL_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}

_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


class Upload:
    """The limits of an upload field, put in its ``Annotated`` metadata.

    Args:
        max_size: Largest file in bytes (the request body limit applies anyway).
        content_types: The content types accepted, as sniffed from the file's
            bytes (``"application/pdf"``); images default to PNG, JPEG, GIF and
            WebP, other files to any type.
        max_files: For a ``list[...]`` field, the most files it takes.
        max_pixels: For images, the most pixels (width times height) accepted,
            checked before the image is decoded (decompression bombs).

    Example:
        >>> from typing import Annotated
        >>> from pydantic import BaseModel
        >>> class Resume(BaseModel):
        ...     cv: Annotated[UploadedFile, Upload(max_size=2_000_000,
        ...                                        content_types=["application/pdf"])]
    """

    def __init__(
        self,
        *,
        max_size: int | None = None,
        content_types: Sequence[str] | None = None,
        max_files: int | None = None,
        max_pixels: int = 40_000_000,
    ) -> None:
        self.max_size = max_size
        self.content_types = tuple(content_types) if content_types is not None else None
        self.max_files = max_files
        self.max_pixels = max_pixels

    def accepted(self, image: bool) -> tuple[str, ...] | None:
        """The content types this field accepts (None: any)."""
        if self.content_types is not None:
            return self.content_types
        return IMAGE_TYPES if image else None

    def __repr__(self) -> str:
        return f"Upload(max_size={self.max_size!r}, content_types={self.content_types!r})"


def safe_filename(name: str | None, *, max_length: int = 120) -> str:
    """A client's file name made safe to show and log: no folders, controls or odd characters.

    Only for display: stored files get a generated name (:func:`generated_name`).

    Example:
        >>> safe_filename("../../etc/passwd")
        'passwd'
        >>> safe_filename("re\\u0301sume\\u0301\\x00.pdf")
        'résumé.pdf'
    """
    text = unicodedata.normalize("NFKC", name or "")
    # The last path segment, whichever separator the client's system uses.
    text = re.split(r"[/\\]", text)[-1]
    text = _UNSAFE_NAME_CHARS.sub("", text)
    # Bidirectional overrides and other format characters can disguise an extension.
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cc", "Cs"))
    text = text.strip(" .")
    if len(text) > max_length:
        stem, dot, ext = text.rpartition(".")
        text = stem[: max_length - len(ext) - 1] + dot + ext if dot and len(ext) < 10 else text
        text = text[:max_length]
    return text or "file"


def generated_name(content_type: str, folder: str = "") -> str:
    """A new random file name (128 bits) with the extension of ``content_type``.

    Example:
        >>> generated_name("image/png", "avatars").startswith("avatars/")
        True
    """
    name = secrets.token_hex(16) + EXTENSIONS.get(content_type, ".bin")
    folder = folder.strip("/")
    return f"{folder}/{name}" if folder else name


def sniff(head: bytes) -> str | None:
    """The content type the bytes ``head`` show (``"image/png"``), or None when unknown.

    Text with no magic number is ``text/plain`` when it is UTF-8 without NUL bytes.

    Example:
        >>> sniff(b"%PDF-1.7 ...")
        'application/pdf'
    """
    import puremagic

    try:
        found = str(puremagic.from_string(head, mime=True) or "")
    except puremagic.PureError:
        found = ""
    if found:
        return found
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut off at the end of the sniffed bytes is still text.
            if exc.start < len(head) - 4:
                return None
        return "text/plain"
    return None


class UploadError(ValueError):
    """An upload broke its field's limits; the message is for the person who sent it."""


class UploadedFile:
    """A file that passed its field's checks; save it to a :class:`Storage`.

    Attributes:
        filename: The client's file name, made safe to show (never used to store).
        content_type: The type read from the file's bytes (not the client's).
        size: Its size in bytes.

    Example:
        >>> name = await form.data.attachment.asave(storage, "attachments")  # doctest: +SKIP
    """

    def __init__(self, upload: UploadFile, content_type: str) -> None:
        self.upload = upload
        self.filename = safe_filename(upload.filename)
        self.content_type = content_type
        self.size = upload.size

    @property
    def file(self) -> BinaryIO:
        """The file's content (a spooled temporary file), at position 0 after :meth:`read`."""
        file: Any = self.upload.file
        return file  # type: ignore[no-any-return]

    @property
    def extension(self) -> str:
        """The extension a stored copy gets: from the sniffed type, ``.bin`` when unlisted."""
        return EXTENSIONS.get(self.content_type, ".bin")

    async def read(self) -> bytes:
        """The whole content."""
        await self.upload.seek(0)
        data = await self.upload.read()
        await self.upload.seek(0)
        return data

    async def asave(self, storage: Storage, folder: str = "") -> str:
        """Store the file under a new random name in ``folder``; returns the stored name.

        Example:
            >>> await upload.asave(storage, "avatars")  # doctest: +SKIP
            'avatars/3f9c0b...e1.png'
        """
        await self.upload.seek(0)
        return await storage.save(generated_name(self.content_type, folder), self.file)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # The form builds the checked object itself; pydantic only checks it is one.
        return core_schema.is_instance_schema(cls)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.filename!r}, {self.content_type!r}, {self.size})"


class UploadedImage(UploadedFile):
    """An image that Pillow opened and verified; ``width``, ``height`` and ``format`` are known.

    Example:
        >>> from typing import Annotated
        >>> from pydantic import BaseModel
        >>> class Profile(BaseModel):
        ...     avatar: Annotated[UploadedImage | None, Upload(max_size=1_000_000)] = None
    """

    def __init__(
        self, upload: UploadFile, content_type: str, *, width: int, height: int, format: str
    ) -> None:
        super().__init__(upload, content_type)
        self.width = width
        self.height = height
        self.format = format


def _human(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}".replace(".0 ", " ")
        size /= 1000  # type: ignore[assignment]
    return f"{size} bytes"  # pragma: no cover - the loop always returns


def _check_image(upload: UploadFile, accepted: tuple[str, ...], max_pixels: int) -> UploadedImage:
    """Open and verify an image with Pillow (blocking: run in the thread pool)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow comes with carboy[forms]
        raise UploadError(
            "Images cannot be checked on this server (Pillow is not installed)"
        ) from None
    file = upload.file
    file.seek(0)
    try:
        with Image.open(file) as image:
            content_type = _PIL_FORMATS.get(image.format or "", "")
            if content_type not in accepted:
                raise UploadError(_type_message(content_type or None, accepted))
            width, height = image.size
            if width * height > max_pixels:
                raise UploadError(
                    f"The image is {width} by {height} pixels; the largest accepted is "
                    f"{max_pixels:,} pixels in all"
                )
            image.verify()
    except UploadError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise UploadError("The file is not an image this site accepts") from None
    except Exception:
        # verify() and the decoders raise many kinds of errors for a damaged file.
        raise UploadError("The image is damaged or incomplete") from None
    finally:
        file.seek(0)
    return UploadedImage(
        upload, content_type, width=width, height=height, format=image.format or ""
    )


def _type_message(found: str | None, accepted: tuple[str, ...]) -> str:
    names = ", ".join(t.split("/")[-1].upper() for t in accepted)
    what = f"a {found} file" if found else "of a type that cannot be recognised"
    return f"The file is {what}; accepted: {names}"


def check_upload(upload: UploadFile, rules: Upload, image: bool) -> UploadedFile:
    """Check one uploaded file against ``rules``; the checked file, or :class:`UploadError`.

    The checks, in order: the size; the content type sniffed from the file's
    first bytes (must be accepted, and must agree with a text type the client
    claims); for images, Pillow opens the file, checks its format and size in
    pixels, and verifies it. It reads the file (blocking): a form runs it in
    the thread pool when it is bound to a request.
    """
    if rules.max_size is not None and upload.size > rules.max_size:
        raise UploadError(
            f"The file is {_human(upload.size)}; the largest accepted is {_human(rules.max_size)}"
        )
    if upload.size == 0:
        raise UploadError("The file is empty")
    accepted = rules.accepted(image)
    if image:
        return _check_image(upload, accepted or IMAGE_TYPES, rules.max_pixels)
    upload.file.seek(0)
    head = upload.file.read(SNIFF_BYTES)
    upload.file.seek(0)
    found = sniff(head)
    claimed = upload.content_type.partition(";")[0].strip().lower()
    content_type = found or "application/octet-stream"
    # Plain text has no magic number: a CSV the client calls text/csv is text/csv.
    if found == "text/plain" and claimed.startswith("text/") and claimed in (accepted or ()):
        content_type = claimed
    if accepted is not None and content_type not in accepted:
        raise UploadError(_type_message(found, accepted))
    return UploadedFile(upload, content_type)
