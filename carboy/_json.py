"""One reused JSON encoder and decoder for the whole framework."""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec

try:  # pydantic is a dependency, but keep the hook cheap to evaluate.
    from pydantic import BaseModel
except ImportError:  # pragma: no cover
    BaseModel = None  # type: ignore[assignment,misc]


def _enc_hook(obj: Any) -> Any:
    if BaseModel is not None and isinstance(obj, BaseModel):
        return obj.model_dump(mode="json", by_alias=True)
    if isinstance(obj, set | frozenset):
        return list(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)
_decoder = msgspec.json.Decoder()

#: Encode any JSON-able value (dicts, lists, dataclasses, msgspec Structs,
#: pydantic models, UUID, datetime, Decimal, Enum) to bytes.
dumps = _encoder.encode


def loads(data: bytes | str) -> Any:
    """Decode JSON bytes; raises ``msgspec.DecodeError`` on malformed input."""
    return _decoder.decode(data)


DecodeError = msgspec.DecodeError
