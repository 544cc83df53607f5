"""The API's documentation: ``/openapi.json``, Swagger UI at ``/docs``, ReDoc at ``/redoc``.

Served offline, like every other asset: the pages' scripts and styles come from the
fastapi-offline package (``/static-offline-docs``), never from a CDN. The app builds its
FastAPI object without FastAPI's own docs routes and calls ``install_api_docs`` last, so
the docs sit after every other route in the router's list: the busy API routes are never
tried after them. Off in production unless ADMITONE_API_DOCS_ENABLED says otherwise
(``Settings.api_docs_on``); then these paths are unknown, 404 like any other.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

OPENAPI_URL = "/openapi.json"
SWAGGER_URL = "/docs"
SWAGGER_OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
REDOC_URL = "/redoc"
ASSETS_URL = "/static-offline-docs"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"


def install_api_docs(app: FastAPI) -> None:
    """Add the schema, the two documentation pages and their assets to ``app``."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="static-offline-docs")

    def root(request: Request) -> str:
        return request.scope.get("root_path", "").rstrip("/")

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(app.openapi())

    async def swagger_ui(request: Request) -> HTMLResponse:
        prefix = root(request)
        return get_swagger_ui_html(
            openapi_url=prefix + OPENAPI_URL,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=prefix + SWAGGER_OAUTH2_REDIRECT_URL,
            swagger_js_url=f"{prefix}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{prefix}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{prefix}{ASSETS_URL}/favicon.png",
        )

    async def swagger_ui_oauth2_redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        prefix = root(request)
        return get_redoc_html(
            openapi_url=prefix + OPENAPI_URL,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{prefix}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{prefix}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    app.add_route(OPENAPI_URL, openapi, include_in_schema=False)
    app.add_route(SWAGGER_URL, swagger_ui, include_in_schema=False)
    app.add_route(SWAGGER_OAUTH2_REDIRECT_URL, swagger_ui_oauth2_redirect, include_in_schema=False)
    app.add_route(REDOC_URL, redoc, include_in_schema=False)
