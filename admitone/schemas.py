"""Shared API shapes: the response envelope, the error body and strict input types."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, Generic, Protocol, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)
from starlette.responses import Response

T = TypeVar("T")


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_contains_nul(item) for item in value)
    return False


class InputModel(BaseModel):
    """Base of every request body: unknown fields are an error, strings are trimmed.

    NUL characters are refused everywhere: PostgreSQL cannot store them in text, and no
    honest client sends them.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: Any) -> Any:
        if _contains_nul(data):
            raise ValueError("text must not contain NUL characters")
        return data


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorBody(BaseModel):
    code: str = Field(examples=["NOT_FOUND"])
    message: str = Field(examples=["Not found."])
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    error: ErrorBody


class DataResponse(BaseModel, Generic[T]):
    data: T


class PageMeta(BaseModel):
    page: int
    per_page: int
    total: int


class ListResponse(BaseModel, Generic[T]):
    data: list[T]
    meta: dict[str, Any] = Field(default_factory=dict)


# Strict numbers: "12" is not 12, and true is not 1.
StrictInt = Annotated[int, Strict()]
# Minor units (cents); a ceiling keeps sums far from any integer overflow.
MoneyMinor = Annotated[int, Strict(), Field(ge=0, le=100_000_000)]
Quantity = Annotated[int, Strict(), Field(ge=1, le=1_000_000)]

# Characters that break a line or control the terminal: none of them means anything in a
# name or a title, and in a mail header a line break would end the header (the mail
# library then refuses the whole message).
_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
ONE_LINE_MESSAGE = "must be on one line, without line breaks or control characters"


def one_line(value: str) -> str:
    """Refuse line breaks and control characters in a one-line text (a name, a title)."""
    if _LINE_BREAKING.search(value):
        raise ValueError(ONE_LINE_MESSAGE)
    return value


OneLine = AfterValidator(one_line)
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200), OneLine]
LongText = Annotated[str, StringConstraints(max_length=20_000)]
Slug = Annotated[
    str,
    StringConstraints(min_length=2, max_length=80, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$"),
]


def page_meta(*, page: int, per_page: int, total: int, **extra: Any) -> dict[str, Any]:
    return {"page": page, "per_page": per_page, "total": total, **extra}


def data_response(data: BaseModel, *, status_code: int = 200) -> Response:
    """``{"data": ...}`` rendered by the route itself, inside its unit of work.

    Write routes hold row locks (PostgreSQL) or the write lock (SQLite) until the unit of
    work commits. FastAPI would validate a sync route's return value in another
    thread-pool hop in between; a ``Response`` is sent as is, so nothing stands between
    the route and the commit (see also deps.run_unit_of_work).
    """
    body = b'{"data":' + data.model_dump_json().encode() + b"}"
    return Response(content=body, status_code=status_code, media_type="application/json")


class _HasErrors(Protocol):
    def errors(self) -> Sequence[Any]: ...


def validation_problems(exc: _HasErrors) -> list[dict[str, Any]]:
    """A validation error's problems as the error shape's ``details`` list them: the
    field (its path, dotted), the message and the kind of each."""
    return [
        {
            "field": ".".join(str(part) for part in error.get("loc", ())),
            "message": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors()
    ]
