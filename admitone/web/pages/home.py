"""The home page."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from admitone.web.deps import OptionalLogin, page_router
from admitone.web.templating import render

router = page_router()


@router.get("/")
def home(request: Request, login: OptionalLogin) -> Response:
    return render(request, "home.html", {"events": []})
