"""Conversions between A2A parts (protobuf) and Ascent content, both ways.

Text stays text; a data part reaches a model as its JSON text (models read
text); files become ``input_file`` / ``input_image`` content. Going out, a
structured final output becomes a data part so a peer gets JSON, not prose.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from typing import Any

from a2a.helpers import new_data_part, new_raw_part, new_text_part, new_url_part
from a2a.types import Part
from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel, TypeAdapter

from ..items import ContentPart, InputFile, InputImage, InputText, Message, OutputText

__all__ = [
    "content_to_parts",
    "data_of",
    "output_to_parts",
    "parts_to_content",
    "parts_to_text",
]

_ANY: TypeAdapter[Any] = TypeAdapter(Any)


def data_of(part: Part) -> Any:
    """A data part's value as plain JSON, whole numbers back as ints.

    ``google.protobuf.Value`` keeps every number as a double, so ``3`` arrives as
    ``3.0``; a model (or a schema expecting an integer) should see ``3``.
    """
    return _whole(MessageToDict(part.data))


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole(item) for item in value]
    return value


def _data_url(raw: bytes, media_type: str) -> str:
    encoded = base64.b64encode(raw).decode()
    return f"data:{media_type or 'application/octet-stream'};base64,{encoded}"


def parts_to_content(parts: Iterable[Part]) -> list[ContentPart]:
    """An incoming message's parts as the content of an Ascent user message."""
    content: list[ContentPart] = []
    for part in parts:
        kind = part.WhichOneof("content")
        media_type = part.media_type
        if kind == "text":
            content.append(InputText(text=part.text))
        elif kind == "data":
            text = json.dumps(data_of(part), ensure_ascii=False)
            content.append(InputText(text=text))
        elif kind == "raw":
            url = _data_url(part.raw, media_type)
            if media_type.startswith("image/"):
                content.append(InputImage(image_url=url))
            else:
                content.append(InputFile(file_data=url, filename=part.filename or "file"))
        elif kind == "url":
            if media_type.startswith("image/"):
                content.append(InputImage(image_url=part.url))
            else:
                content.append(InputFile(file_url=part.url, filename=part.filename or None))
    return content


def output_to_parts(output: Any) -> list[Part]:
    """A run's final output as parts: text for a string, a data part for anything structured."""
    if isinstance(output, str):
        return [new_text_part(output)]
    if isinstance(output, BaseModel):
        return [new_data_part(output.model_dump(mode="json"))]
    if output is None:
        return [new_text_part("")]
    return [new_data_part(_ANY.dump_python(output, mode="json"))]


def content_to_parts(message: Message) -> list[Part]:
    """An Ascent message's content as A2A parts (what a remote agent is sent)."""
    if isinstance(message.content, str):
        return [new_text_part(message.content)]
    parts: list[Part] = []
    for item in message.content:
        if isinstance(item, InputText | OutputText):
            parts.append(new_text_part(item.text))
        elif isinstance(item, InputImage) and item.image_url:
            parts.append(_file_part(item.image_url, None))
        elif isinstance(item, InputFile) and (item.file_data or item.file_url):
            parts.append(_file_part(item.file_data or item.file_url or "", item.filename))
    return parts


def _file_part(url: str, filename: str | None) -> Part:
    if url.startswith("data:") and ";base64," in url:
        header, _, payload = url.partition(";base64,")
        return new_raw_part(base64.b64decode(payload), header[5:], filename)
    return new_url_part(url, filename=filename)


def parts_to_text(parts: Sequence[Part]) -> str:
    """Parts as the text a model reads: data parts as JSON, files as a short note."""
    pieces: list[str] = []
    for part in parts:
        kind = part.WhichOneof("content")
        if kind == "text":
            pieces.append(part.text)
        elif kind == "data":
            # A protobuf Struct keeps no key order: sort, so the same data reads the same.
            pieces.append(json.dumps(data_of(part), ensure_ascii=False, sort_keys=True))
        elif kind in ("raw", "url"):
            label = part.filename or part.media_type or "file"
            where = f" {part.url}" if kind == "url" else f" ({len(part.raw)} bytes)"
            pieces.append(f"[file {label}{where}]")
    return "\n".join(pieces)
