from __future__ import annotations

from admitone.errors import NotFound


class DocumentNotFound(NotFound):
    code = "DOCUMENT_NOT_FOUND"
    message = "No such order, or not yours."
