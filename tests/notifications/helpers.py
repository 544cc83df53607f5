"""Reading a delivered message: its parts, its PDFs rendered, the QR codes decoded."""

from __future__ import annotations

from email.message import EmailMessage

import pypdfium2
import zxingcpp
from PIL import Image


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    assert part.get_content_type() == f"text/{subtype}"
    return part.get_content()


def attachments(message: EmailMessage) -> list[tuple[str, str, bytes]]:
    """(filename, content type, bytes) of each attachment, in order."""
    return [
        (part.get_filename() or "", part.get_content_type(), part.get_content())
        for part in message.iter_attachments()
    ]


def render_pages(pdf: bytes, scale: float = 3) -> list[Image.Image]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [document[index].render(scale=scale).to_pil() for index in range(len(document))]
    finally:
        document.close()


def pdf_text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return "\n".join(
            document[index].get_textpage().get_text_range() for index in range(len(document))
        )
    finally:
        document.close()


def decode_qr(image: Image.Image) -> list[str]:
    return [
        result.text
        for result in zxingcpp.read_barcodes(image)
        if result.format == zxingcpp.BarcodeFormat.QRCode
    ]
