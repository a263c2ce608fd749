"""Parts both ways: what a peer sends becomes content a model reads, and back."""

from __future__ import annotations

import base64

from a2a.helpers import new_data_part, new_raw_part, new_text_part, new_url_part

from ascent.a2a._parts import content_to_parts, data_of, output_to_parts, parts_to_text
from ascent.items import InputFile, InputImage, InputText, Message


def test_parts_read_as_text_with_data_as_json_and_files_named() -> None:
    parts = [
        new_text_part("Here you go."),
        new_data_part({"total": 120, "ratio": 0.5}),
        new_url_part("https://example.com/a.pdf", "application/pdf", "a.pdf"),
        new_raw_part(b"12345", "text/csv", "t.csv"),
    ]
    assert parts_to_text(parts).splitlines() == [
        "Here you go.",
        '{"ratio": 0.5, "total": 120}',
        "[file a.pdf https://example.com/a.pdf]",
        "[file t.csv (5 bytes)]",
    ]


def test_message_content_becomes_parts_and_files_keep_their_bytes() -> None:
    png = base64.b64encode(b"\x89PNG").decode()
    message = Message(
        role="user",
        content=[
            InputText(text="Look:"),
            InputImage(image_url=f"data:image/png;base64,{png}"),
            InputFile(file_url="https://example.com/r.pdf", filename="r.pdf"),
        ],
    )
    text, image, file = content_to_parts(message)
    assert text.text == "Look:"
    assert (image.raw, image.media_type) == (b"\x89PNG", "image/png")
    assert (file.url, file.filename) == ("https://example.com/r.pdf", "r.pdf")
    assert [p.text for p in content_to_parts(Message(role="user", content="plain"))] == ["plain"]


def test_outputs_become_text_or_data_parts() -> None:
    assert output_to_parts("done")[0].text == "done"
    (part,) = output_to_parts([1, {"a": 2}])
    assert data_of(part) == [1, {"a": 2}]
    assert output_to_parts(None)[0].text == ""
